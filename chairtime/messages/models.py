"""The delivery log: one row per e-mail the salon owes a customer.

The row is written in the transaction of the change that causes it (a booking, a
cancellation), together with the task that delivers it, so the two commit or
roll back with the change. It is also the outbox the worker works from: its
state says whether the message still has to go, and the worker claims it before
sending (``delivery.deliver``), which is what keeps two workers from sending it
twice.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Message(models.Model):
    class Kind(models.TextChoices):
        VISIT_BOOKED = "visit_booked", _("Booking confirmation")
        VISIT_CANCELLED = "visit_cancelled", _("Cancellation")
        VISIT_CHANGED = "visit_changed", _("Change of time or stylist")
        REMINDER = "reminder", _("Reminder")
        WAITLIST_JOINED = "waitlist_joined", _("Waitlist confirmation")
        WAITLIST_OFFER = "waitlist_offer", _("Waitlist offer of a freed time")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        # No longer true when its turn came (a confirmation of a visit since cancelled).
        SKIPPED = "skipped", _("Not sent: no longer true")
        FAILED = "failed", _("Given up")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # The visit's first appointment: the one the manage link is issued for. Or,
    # for the waitlist's messages, the waitlist entry (exactly one of the two).
    appointment = models.ForeignKey(
        "booking.Appointment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("appointment"),
    )
    waitlist_entry = models.ForeignKey(
        "booking.WaitlistEntry",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("waitlist entry"),
    )
    visit = models.ForeignKey(
        "booking.Visit",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("visit"),
    )
    recipient = models.EmailField(_("recipient"), max_length=254)
    # The calendar event's SEQUENCE (RFC 5546): each later message about the same
    # visit carries a higher one, so calendar programs update the event it made.
    sequence = models.PositiveIntegerField(_("sequence"), default=0)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    # When the next attempt may start (back-off after a failure).
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    # While SENDING: until when the worker that claimed it may take. A worker that
    # died mid-send leaves its claim to expire; then the message is due again.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # The visit's start when the message was owed: one that is no longer true when
    # its turn comes (a reminder or confirmation of a time since moved) is skipped.
    about_starts_at = models.DateTimeField(_("about starts at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="message_state_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(appointment__isnull=False, waitlist_entry__isnull=True)
                | Q(appointment__isnull=True, waitlist_entry__isnull=False),
                name="message_of_appointment_or_waitlist_entry",
            )
        ]

    def __str__(self) -> str:
        about = (
            f"appointment {self.appointment_id}"
            if self.appointment_id is not None
            else f"waitlist entry {self.waitlist_entry_id}"
        )
        return f"{self.get_kind_display()} for {about} ({self.get_state_display()})"
