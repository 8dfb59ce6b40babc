"""The delivery log in the back office: every message, its state and attempts,
read-only (the worker writes it). Each appointment's page lists its visit's
messages (``MessageInline``, added here to the booking app's AppointmentAdmin so
that booking/admin.py need not know about messages). Filter by appointment:
/admin/customer_messages/message/?appointment__id__exact=ID."""

from __future__ import annotations

from django.contrib import admin
from django.forms import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from chairtime.booking.admin import AppointmentAdmin
from chairtime.messages.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "appointment", "state", "attempts", "sent_at", "next_attempt_at"]
    list_filter = ["state", "kind"]
    list_select_related = ["appointment__service", "appointment__stylist"]
    search_fields = ["=appointment__id", "=visit__id"]
    ordering = ["-created_at", "-pk"]
    fields = [
        "kind",
        "appointment",
        "visit",
        "recipient",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "claimed_until",
        "sent_at",
        "sequence",
        "about_starts_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class VisitMessages(BaseInlineFormSet):
    """Messages are written for a visit's first appointment: the page of any of
    its appointments shows them all.

    Read-only, so it never reads the page's POST (staff saving contact details):
    the worker may have written a message since the page was shown, and a form
    posted without this formset's fields is then still saved."""

    def __init__(self, data=None, files=None, *args, **kwargs) -> None:
        super().__init__(None, None, *args, **kwargs)

    def is_valid(self) -> bool:
        return True

    def save(self, commit: bool = True) -> list[Message]:
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        return []

    def get_queryset(self):
        if self.instance.visit_id is None:
            return super().get_queryset()
        return Message.objects.filter(visit_id=self.instance.visit_id).order_by("created_at", "pk")


class MessageInline(admin.TabularInline):
    """The appointment's messages and their delivery state, read-only."""

    model = Message
    fk_name = "appointment"
    formset = VisitMessages
    verbose_name_plural = _("Messages to the customer")
    fields = ["created_at", "kind", "state", "attempts", "next_attempt_at", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


AppointmentAdmin.inlines = [*AppointmentAdmin.inlines, MessageInline]
