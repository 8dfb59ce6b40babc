"""The desk's forms: booking a walk-in or phone customer, moving a visit, and status changes."""

from __future__ import annotations

import secrets

from django import forms

from chairtime.booking.models import Service, Stylist
from chairtime.clients.models import Client

# A date box (<input type="date">) holds only YYYY-MM-DD, whatever the page's language:
# Django would write the language's own format (09/12/2026 in French), which the
# browser drops, and the form comes back "Give a date."
ISO_DATE = "%Y-%m-%d"


class DeskBookingForm(forms.Form):
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        label="Services",
        help_text="Several services are booked back to back, in the order listed.",
        error_messages={"required": "Choose at least one service."},
    )
    stylist = forms.ModelChoiceField(
        queryset=Stylist.objects.filter(is_active=True),
        label="Stylist",
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the stylists listed."},
    )
    date = forms.DateField(
        label="Date",
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
        error_messages={"invalid": "Give a date."},
    )
    time = forms.TimeField(
        label="Start time",
        widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
        error_messages={"invalid": "Give a time such as 14:30."},
    )
    customer_name = forms.CharField(label="Customer's name", max_length=100, strip=True)
    customer_email = forms.EmailField(label="E-mail address (optional)", required=False, max_length=254)
    customer_phone = forms.CharField(
        label="Phone number (optional)", required=False, max_length=32, strip=True
    )
    # The card picked from the client list ("Find a client"): the visit joins it.
    client = forms.ModelChoiceField(
        queryset=Client.objects.none(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "That client card is no longer there: find the client again."},
    )
    start_card = forms.BooleanField(
        label="Start a client card for this customer",
        required=False,
        help_text="For a customer without a card. With an e-mail address, the card of that address is "
        "found or started anyway.",
    )
    # One per form shown: sending the same form twice books once (services.request_key).
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, salon_id: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.filter(salon_id=salon_id, erased_at=None)
        if not self.is_bound:
            self.initial.setdefault("nonce", secrets.token_urlsafe(16))


class DeskMoveForm(forms.Form):
    """Move a visit: a new day and start, and the same stylist or another one for
    every service of it."""

    date = forms.DateField(
        label="New date",
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
        error_messages={"required": "Give a date.", "invalid": "Give a date."},
    )
    time = forms.TimeField(
        label="New start time",
        widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
        error_messages={"required": "Give a time such as 14:30.", "invalid": "Give a time such as 14:30."},
    )
    stylist = forms.ModelChoiceField(
        queryset=Stylist.objects.filter(is_active=True),
        label="Stylist",
        required=False,
        empty_label="Keep each service's stylist",
        error_messages={"invalid_choice": "Choose one of the stylists listed."},
    )
    # One per form shown: sending the same form twice moves once.
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("nonce", secrets.token_urlsafe(16))
