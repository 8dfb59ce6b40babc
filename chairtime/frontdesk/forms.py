"""The desk's forms: booking a walk-in or phone customer, moving a visit, and status changes."""

from __future__ import annotations

import secrets

from django import forms
from django.utils.translation import gettext_lazy as _

from chairtime.booking.models import Salon, Service, Stylist
from chairtime.clients import selectors as client_list
from chairtime.clients.models import Client

# The browser's date picker reads and writes only ISO dates: without a fixed
# format the field would show the language's (02/03/2027 in French), which the
# picker drops as invalid.
ISO_DATE = "%Y-%m-%d"


class DeskBookingForm(forms.Form):
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        label=_("Services"),
        help_text=_("Several services are booked back to back, in the order listed."),
        error_messages={"required": _("Choose at least one service.")},
    )
    stylist = forms.ModelChoiceField(
        queryset=Stylist.objects.filter(is_active=True),
        label=_("Stylist"),
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of the stylists listed.")},
    )
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
        error_messages={"invalid": _("Give a date.")},
    )
    time = forms.TimeField(
        label=_("Start time"),
        widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
        error_messages={"invalid": _("Give a time such as 14:30.")},
    )
    customer_name = forms.CharField(label=_("Customer's name"), max_length=100, strip=True)
    customer_email = forms.EmailField(label=_("E-mail address (optional)"), required=False, max_length=254)
    customer_phone = forms.CharField(
        label=_("Phone number (optional)"), required=False, max_length=32, strip=True
    )
    # The card picked from the client list ("Find a client"): the visit joins it.
    client = forms.ModelChoiceField(
        queryset=Client.objects.none(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("That client card is no longer there: find the client again.")},
    )
    start_card = forms.BooleanField(
        label=_("Start a client card for this customer"),
        required=False,
        help_text=_(
            "For a customer without a card. With an e-mail address, the card of that address is "
            "found or started anyway."
        ),
    )
    # One per form shown: sending the same form twice books once (services.request_key).
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, salon: Salon, only_stylist_id: int | None = None, **kwargs) -> None:
        """``only_stylist_id``: a stylist booking into their own column; the form
        offers only them, and only their own clients' cards can be picked."""
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = client_list.client_search(
            salon=salon, query="", stylist_id=only_stylist_id
        )
        if only_stylist_id is not None:
            self.fields["stylist"].queryset = Stylist.objects.filter(pk=only_stylist_id)
        if not self.is_bound:
            self.initial.setdefault("nonce", secrets.token_urlsafe(16))


class DeskMoveForm(forms.Form):
    """Move a visit: a new day and start, and the same stylist or another one for
    every service of it."""

    date = forms.DateField(
        label=_("New date"),
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
        error_messages={"required": _("Give a date."), "invalid": _("Give a date.")},
    )
    time = forms.TimeField(
        label=_("New start time"),
        widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
        error_messages={
            "required": _("Give a time such as 14:30."),
            "invalid": _("Give a time such as 14:30."),
        },
    )
    stylist = forms.ModelChoiceField(
        queryset=Stylist.objects.filter(is_active=True),
        label=_("Stylist"),
        required=False,
        empty_label=_("Keep each service's stylist"),
        error_messages={"invalid_choice": _("Choose one of the stylists listed.")},
    )
    # One per form shown: sending the same form twice moves once.
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("nonce", secrets.token_urlsafe(16))
