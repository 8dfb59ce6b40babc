import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "chairtime.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from chairtime.ops import booking_metrics

        booking_metrics.connect()
        logging.getLogger("chairtime.booking").addFilter(booking_metrics.CountLockConflicts())
