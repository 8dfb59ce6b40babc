from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "chairtime.ops"
    label = "ops"
    verbose_name = "Operations"
