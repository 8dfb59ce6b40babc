from django.apps import AppConfig


class AnnouncementsConfig(AppConfig):
    name = "chairtime.announcements"
    label = "announcements"
    verbose_name = "Announcements"
