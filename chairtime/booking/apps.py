from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "chairtime.booking"
    label = "booking"
    verbose_name = "Salon"

    def ready(self) -> None:
        # Connects the signals that clear the read paths' configuration snapshot.
        from chairtime.booking import catalog  # noqa: F401
