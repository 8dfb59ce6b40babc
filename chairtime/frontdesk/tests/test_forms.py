"""The desk's forms in every language the desk speaks."""

from __future__ import annotations

from datetime import date

import pytest
from django.conf import settings
from django.utils import translation

from chairtime.booking.models import Salon
from chairtime.frontdesk.forms import DeskBookingForm, DeskMoveForm

DAY = date(2027, 3, 2)


@pytest.mark.parametrize("lang", [code for code, _ in settings.LANGUAGES])
@pytest.mark.django_db
def test_it_fills_the_date_boxes_with_a_date_the_browser_can_show(lang):
    with translation.override(lang):
        forms = [
            DeskBookingForm(initial={"date": DAY}, salon=Salon.load()),
            DeskMoveForm(initial={"date": DAY}),
        ]
        boxes = [str(form["date"]) for form in forms]
    for box in boxes:
        assert 'type="date"' in box and 'value="2027-03-02"' in box, box
