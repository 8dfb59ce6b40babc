from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    name = "chairtime.booking"
    label = "booking"
    verbose_name = _("Salon")

    def ready(self) -> None:
        # Connects the signals that clear the read paths' configuration snapshot.
        from chairtime.booking import catalog  # noqa: F401
