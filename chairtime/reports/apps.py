from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "chairtime.reports"
    label = "reports"
    verbose_name = "Reports"
