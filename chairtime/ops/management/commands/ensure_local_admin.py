import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "For local development only (DEBUG on): create a back-office superuser 'admin' with a random "
        "password when there is no superuser yet, and print the password once."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            # Production gets no default account; staff are created deliberately.
            raise CommandError("ensure_local_admin only runs with DEBUG on. Use createsuperuser instead.")
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write("A back-office superuser already exists; not creating another.")
            return
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", "admin@localhost", password)
        self.stdout.write(
            self.style.SUCCESS(f"Back office (/admin/): user 'admin', password '{password}' (shown once)")
        )
