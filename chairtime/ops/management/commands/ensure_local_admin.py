import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from chairtime.booking.models import Salon
from chairtime.frontdesk.models import Role, StaffMember


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
        superusers = user_model.objects.filter(is_superuser=True)
        if superusers.exists():
            # A database made before the front desk: its superusers manage the desk too.
            for user in superusers.filter(staff_member__isnull=True):
                StaffMember.objects.create(user=user, role=Role.MANAGER, salon=Salon.load())
            self.stdout.write("A back-office superuser already exists; not creating another.")
            return
        password = secrets.token_urlsafe(12)
        user = user_model.objects.create_superuser("admin", "admin@localhost", password)
        # The salon's manager at the front desk too (a desk page needs a role).
        StaffMember.objects.create(user=user, role=Role.MANAGER, salon=Salon.load())
        self.stdout.write(
            self.style.SUCCESS(
                f"Front desk (/desk/) and back office (/admin/): user 'admin', password '{password}' "
                "(shown once; a manager)"
            )
        )
