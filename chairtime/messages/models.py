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


class Message(models.Model):
    class Kind(models.TextChoices):
        VISIT_BOOKED = "visit_booked", "Booking confirmation"
        VISIT_CANCELLED = "visit_cancelled", "Cancellation"
        VISIT_CHANGED = "visit_changed", "Change of time or stylist"
        REMINDER = "reminder", "Reminder"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        # No longer true when its turn came (a confirmation of a visit since cancelled).
        SKIPPED = "skipped", "Not sent: no longer true"
        FAILED = "failed", "Given up"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The visit's first appointment: the one the manage link is issued for.
    appointment = models.ForeignKey("booking.Appointment", on_delete=models.CASCADE, related_name="messages")
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

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for appointment {self.appointment_id} ({self.get_state_display()})"
