from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils.translation import gettext, gettext_lazy

from chairtime.announcements.store import MAX_TEXT_LENGTH, InvalidAnnouncement, check_announcement


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker; values are wall-clock times of the active zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class AnnouncementForm(forms.Form):
    """Text and an optional window, entered in the salon's time zone.

    The view activates that zone (``timezone.override``) while the form is bound
    and rendered: Django's DateTimeField then reads the naive input as salon
    time, refuses a time that a DST change skips or repeats, and shows stored
    UTC values back in salon time.
    """

    text = forms.CharField(
        label=gettext_lazy("Text"),
        max_length=MAX_TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )
    starts_at = forms.DateTimeField(
        required=False,
        widget=LocalDateTimeInput,
        help_text=gettext_lazy("Leave empty to show it as soon as it is saved."),
    )
    ends_at = forms.DateTimeField(
        required=False,
        widget=LocalDateTimeInput,
        help_text=gettext_lazy(
            "Leave empty to show it until you delete it. "
            "An announcement is deleted automatically 30 days after it ends."
        ),
    )

    def __init__(self, *args, now: datetime, time_zone_name: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.now = now
        # Per request, in the reader's language: they hold a number and a zone.
        self.fields["text"].help_text = gettext("Shown on the public pages. Up to %(limit)s characters.") % {
            "limit": MAX_TEXT_LENGTH
        }
        self.fields["starts_at"].label = gettext("Show from (%(zone)s time)") % {"zone": time_zone_name}
        self.fields["ends_at"].label = gettext("Show until (%(zone)s time)") % {"zone": time_zone_name}

    def _unchanged_to_the_minute(self, name: str) -> bool:
        """The picker shows minutes only; an untouched time keeps its stored seconds."""
        initial, value = self.initial.get(name), self.cleaned_data.get(name)
        if initial is None or value is None or value != initial.replace(second=0, microsecond=0):
            return False
        self.cleaned_data[name] = initial
        return True

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        ends_at_unchanged = self._unchanged_to_the_minute("ends_at")
        self._unchanged_to_the_minute("starts_at")
        try:
            check_announcement(
                text=cleaned["text"], starts_at=cleaned["starts_at"], ends_at=cleaned["ends_at"]
            )
        except InvalidAnnouncement as e:
            self.add_error(e.field, e.message)
            return cleaned
        ends_at = cleaned["ends_at"]
        # Only a new or changed end is checked: fixing a typo in an announcement
        # that has already ended must stay possible.
        if ends_at is not None and not ends_at_unchanged and ends_at <= self.now:
            self.add_error(
                "ends_at", gettext("That time has already passed, so the announcement would never show.")
            )
        return cleaned
