"""The staff forms of the client card."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from chairtime.booking.models import FIRST_DATE, LAST_DATE
from chairtime.formats import format_long_day

NOTES_MAX_LENGTH = 5000
FORMULA_MAX_LENGTH = 2000


class StaffForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class NotesForm(StaffForm):
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        required=False,
        max_length=NOTES_MAX_LENGTH,
        strip=True,
        help_text=gettext_lazy("For staff only. The client can ask to see them."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class FormulaForm(StaffForm):
    date = forms.DateField(
        label=gettext_lazy("Date"),
        input_formats=["%Y-%m-%d"],  # 02/03 is February or March depending on who reads it
        error_messages={
            "required": gettext_lazy("Give the date of the formula."),
            "invalid": gettext_lazy("Give a date as YYYY-MM-DD."),
        },
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    appointment = forms.TypedChoiceField(
        label=gettext_lazy("Visit (optional)"), required=False, coerce=int, empty_value=None
    )
    text = forms.CharField(
        label=gettext_lazy("Formula"),
        max_length=FORMULA_MAX_LENGTH,
        error_messages={"required": gettext_lazy("Write the formula.")},
        help_text=gettext_lazy("For example: 6.1 + 7.1 (1:1), 20 vol, 35 min."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, visits: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["appointment"].choices = [("", pgettext_lazy("no visit", "None")), *visits]

    def clean_date(self):
        day = self.cleaned_data["date"]
        if not FIRST_DATE <= day <= LAST_DATE:
            raise forms.ValidationError(
                gettext("The date must be between %(first)s and %(last)s.")
                % {"first": format_long_day(FIRST_DATE), "last": format_long_day(LAST_DATE)}
            )
        return day
