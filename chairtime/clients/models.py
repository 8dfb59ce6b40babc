"""Client cards: the salon's record of a customer across visits.

A card belongs to a salon. Appointments are linked to it through ClientAppointment
(one card per appointment at most), so the booking tables know nothing of cards
and the booking app never imports this one's models. How an online booking finds
its card is the attach rule of ``services.attach_booked`` (docs/clients.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from chairtime.booking.models import Appointment, Salon

NAME_MAX_LENGTH = 100  # Appointment.customer_name
EMAIL_MAX_LENGTH = 254  # Appointment.customer_email
PHONE_MAX_LENGTH = 32  # Appointment.customer_phone


def normalise_email(value: str | None) -> str | None:
    """The form a card's e-mail is stored and matched in: stripped and lower-cased;
    None for no address (NULLs never collide in the unique constraint)."""
    value = (value or "").strip().lower()
    return value or None


def phone_digits(value: str) -> str:
    """The digits of a phone number: what search matches, whatever the spacing."""
    return "".join(ch for ch in value if ch.isdigit())


class Client(models.Model):
    salon = models.ForeignKey(
        Salon, verbose_name=_("salon"), on_delete=models.CASCADE, related_name="clients"
    )
    # Blank only once erased: every other card has a name.
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH, blank=True)
    # Lower-cased (normalise_email); NULL when there is none, or once erased. The
    # only key an online booking is matched by: see services.attach_booked.
    email = models.CharField(_("email"), max_length=EMAIL_MAX_LENGTH, null=True, blank=True)  # noqa: DJ001 (NULLs never collide)
    phone = models.CharField(_("phone"), max_length=PHONE_MAX_LENGTH, blank=True)
    # Kept in step with phone by save(): search by digits, "0171 555" finds "0171-555...".
    phone_digits = models.CharField(
        _("phone digits"), max_length=PHONE_MAX_LENGTH, blank=True, editable=False
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("erased by"),
    )

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["salon", "email"], name="client_one_per_email"),
            models.CheckConstraint(
                condition=Q(erased_at__isnull=True) | Q(email__isnull=True, name="", phone="", notes=""),
                name="client_erased_is_blank",
            ),
        ]
        indexes = [
            # The search list's order and its pages; a name prefix uses it too.
            models.Index(fields=["salon", "name", "id"], name="client_salon_name"),
            models.Index(fields=["salon", "phone_digits"], name="client_salon_phone"),
        ]

    def __str__(self) -> str:
        # The heading of an erased card, in the reader's language.
        return self.name or gettext("Erased client %(number)s") % {"number": self.pk}

    def save(self, *args, **kwargs) -> None:
        self.email = normalise_email(self.email)
        self.phone_digits = phone_digits(self.phone)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "phone" in update_fields:
            kwargs["update_fields"] = {*update_fields, "phone_digits"}
        super().save(*args, **kwargs)

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class ClientAppointment(models.Model):
    """An appointment's card. An appointment has at most one (the primary key)."""

    class How(models.TextChoices):
        EMAIL = "email", _("Booked online with the card's e-mail address")
        STAFF = "staff", _("Attached by staff")
        BACKFILL = "backfill", _("Matched by e-mail when cards were introduced")

    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="client_link",
        verbose_name=_("appointment"),
    )
    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="appointment_links"
    )
    how = models.CharField(_("how"), max_length=16, choices=How.choices)
    attached_at = models.DateTimeField(_("attached at"))

    class Meta:
        verbose_name = _("client appointment")
        verbose_name_plural = _("client appointments")

    def __str__(self) -> str:
        return f"appointment {self.appointment_id} of client {self.client_id}"


class ColourFormula(models.Model):
    """A dated colour formula on a card: what was mixed, for which visit, by whom."""

    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="formulas"
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("appointment"),
    )
    date = models.DateField(_("date"))
    text = models.TextField(_("text"))
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff"),
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("colour formula")
        verbose_name_plural = _("colour formulas")
        ordering = ["-date", "-pk"]
        indexes = [models.Index(fields=["client", "date"], name="formula_client_date")]

    def __str__(self) -> str:
        return f"formula of {self.date:%Y-%m-%d} for client {self.client_id}"
