from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "chairtime.booking"
    label = "booking"
    verbose_name = "Salon"
