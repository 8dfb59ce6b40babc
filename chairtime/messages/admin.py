"""The delivery log in the back office: every message, its state and attempts,
read-only (the worker writes it). Filter by appointment from its change page's
link: /admin/customer_messages/message/?appointment__id__exact=ID."""

from __future__ import annotations

from django.contrib import admin

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
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MessageInline(admin.TabularInline):
    """The appointment's messages, for the Appointment admin's ``inlines`` (booking/admin.py)."""

    model = Message
    fk_name = "appointment"
    fields = ["created_at", "kind", "state", "attempts", "last_error", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
