from django.apps import AppConfig


class MessagesConfig(AppConfig):
    name = "chairtime.messages"
    # "messages" is django.contrib.messages' label (the pages' flash messages).
    label = "customer_messages"
    verbose_name = "Customer messages"
