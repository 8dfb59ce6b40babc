from django.contrib.admin.apps import AdminConfig


class ChairtimeAdminConfig(AdminConfig):
    default_site = "chairtime.admin.ChairtimeAdminSite"
