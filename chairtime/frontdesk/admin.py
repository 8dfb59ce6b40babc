from django.contrib import admin

from chairtime.frontdesk.models import AppointmentEvent, StaffMember


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "stylist"]
    list_filter = ["role"]
    autocomplete_fields = ["user"]
    exclude = ["salon"]


@admin.register(AppointmentEvent)
class AppointmentEventAdmin(admin.ModelAdmin):
    list_display = ["at", "kind", "by_name", "appointment"]
    list_filter = ["kind"]
    readonly_fields = ["appointment", "kind", "at", "by", "by_name"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
