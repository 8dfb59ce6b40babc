from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagesConfig(AppConfig):
    name = "chairtime.messages"
    # "messages" is django.contrib.messages' label (the pages' flash messages).
    label = "customer_messages"
    verbose_name = _("Customer messages")
