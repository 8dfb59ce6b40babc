from django.apps import AppConfig


class FrontdeskConfig(AppConfig):
    name = "chairtime.frontdesk"
    label = "frontdesk"
    verbose_name = "Front desk"
    default_auto_field = "django.db.models.BigAutoField"
