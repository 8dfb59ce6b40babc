from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FrontdeskConfig(AppConfig):
    name = "chairtime.frontdesk"
    label = "frontdesk"
    verbose_name = _("Front desk")
    default_auto_field = "django.db.models.BigAutoField"
