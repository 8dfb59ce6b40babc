"""The one form customers fill in: who the appointment is for."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from chairtime.booking.names import name_problem

# What people actually type into a phone field: digits, spaces, a leading +,
# brackets, dashes, dots and slashes ("+1 (415) 555-0100", "0171/555 01 00").
_PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ()./-]+$")
_MIN_PHONE_DIGITS = 5


def validate_phone(value: str) -> None:
    if not _PHONE_CHARACTERS.fullmatch(value):
        raise ValidationError(
            _("Use digits, spaces and + ( ) - . / only, for example +1 415 555 0100."),
            code="phone_characters",
        )
    if sum(ch.isdigit() for ch in value) < _MIN_PHONE_DIGITS:
        raise ValidationError(_("That looks too short for a phone number."), code="phone_too_short")


def validate_printable(value: str) -> None:
    # Names in any script, emoji included; no control characters (names.py says
    # which and why: the staff day sheet, calendar files).
    problem = name_problem(value)
    if problem == "invisible":
        raise ValidationError(_("Please tell us your name."), code="invisible")
    if problem is not None:
        raise ValidationError(_("Please use letters, spaces and punctuation only."), code="not_printable")


class ContactForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"),
        max_length=100,
        validators=[validate_printable],
        error_messages={"required": _("Please tell us your name.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "name", "autocapitalize": "words", "spellcheck": "false"}
        ),
    )
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        error_messages={
            "required": _("Please enter your e-mail address."),
            "invalid": _("Please enter a valid e-mail address, like name@example.com."),
        },
        help_text=_("Only used about this appointment."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    phone = forms.CharField(
        label=_("Phone number (optional)"),
        max_length=32,
        required=False,
        validators=[validate_phone],
        help_text=_("In case we need to reach you on the day."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")  # "Your name", not "Your name:"
        super().__init__(*args, **kwargs)
