"""Create or update a front-desk account: ``manage.py desk_staff USERNAME --role ROLE``.

The password is read from standard input (one line), so it never lands in the
shell's history or the process list: ``printf '%s\\n' "$PASS" | manage.py desk_staff
ana --role stylist --stylist ana``. Without input (``--no-password``) the account
has no usable password until one is set in the admin. A manager's account may
also open the Django admin (``is_staff``, superuser); other roles may not.
"""

from __future__ import annotations

import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chairtime.booking.models import Salon, Stylist
from chairtime.frontdesk.models import Role, StaffMember


class Command(BaseCommand):
    help = "Create or update a front-desk account with a role (manager, desk or stylist)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--stylist", help="For --role stylist: the stylist's key (as in the salon file).")
        parser.add_argument("--email", default="")
        parser.add_argument("--no-password", action="store_true", help="Do not read a password from stdin.")

    def handle(
        self, *args, username: str, role: str, stylist: str | None, email: str, no_password: bool, **options
    ):
        stylist_row = None
        if role == Role.STYLIST:
            if not stylist:
                raise CommandError("A stylist's account needs --stylist KEY: which stylist they are.")
            stylist_row = Stylist.objects.filter(key=stylist).first()
            if stylist_row is None:
                raise CommandError(f"There is no stylist with the key {stylist!r}.")
        elif stylist:
            raise CommandError("Only a stylist's account names a stylist (--role stylist).")
        password = None
        if not no_password:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("Give the password on standard input, or --no-password.")
        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=username, defaults={"email": email})
            if email:
                user.email = email
            if password is not None:
                try:
                    validate_password(password, user)
                except ValidationError as error:
                    raise CommandError(" ".join(error.messages)) from None
                user.set_password(password)
            elif created:
                user.set_unusable_password()
            # The raw Django admin is for managers only.
            user.is_staff = user.is_superuser = role == Role.MANAGER
            user.save()
            StaffMember.objects.update_or_create(
                user=user, defaults={"role": role, "stylist": stylist_row, "salon": Salon.load()}
            )
        self.stdout.write(f"{'Created' if created else 'Updated'} {username} as {Role(role).label.lower()}.")
