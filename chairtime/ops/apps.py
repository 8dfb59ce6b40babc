import logging

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "chairtime.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from chairtime.ops import booking_metrics

        booking_metrics.connect()
        logging.getLogger("chairtime.booking").addFilter(booking_metrics.CountLockConflicts())
