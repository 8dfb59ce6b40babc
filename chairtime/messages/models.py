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


class Message(models.Model):
    class Kind(models.TextChoices):
        VISIT_BOOKED = "visit_booked", "Booking confirmation"
        VISIT_CANCELLED = "visit_cancelled", "Cancellation"
        VISIT_CHANGED = "visit_changed", "Change of time or stylist"
        REMINDER = "reminder", "Reminder"
        WAITLIST_JOINED = "waitlist_joined", "Waitlist confirmation"
        WAITLIST_OFFER = "waitlist_offer", "Waitlist offer of a freed time"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        # No longer true when its turn came (a confirmation of a visit since cancelled).
        SKIPPED = "skipped", "Not sent: no longer true"
        FAILED = "failed", "Given up"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The visit's first appointment: the one the manage link is issued for. Or,
    # for the waitlist's messages, the waitlist entry (exactly one of the two).
    appointment = models.ForeignKey(
        "booking.Appointment", on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    waitlist_entry = models.ForeignKey(
        "booking.WaitlistEntry", on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    visit = models.ForeignKey(
        "booking.Visit", on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    recipient = models.EmailField(max_length=254)
    # The calendar event's SEQUENCE (RFC 5546): each later message about the same
    # visit carries a higher one, so calendar programs update the event it made.
    sequence = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    # When the next attempt may start (back-off after a failure).
    next_attempt_at = models.DateTimeField()
    # While SENDING: until when the worker that claimed it may take. A worker that
    # died mid-send leaves its claim to expire; then the message is due again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The visit's start when the message was owed: one that is no longer true when
    # its turn comes (a reminder or confirmation of a time since moved) is skipped.
    about_starts_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
