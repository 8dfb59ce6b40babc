from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "chairtime.clients"
    label = "clients"
    verbose_name = "Clients"
