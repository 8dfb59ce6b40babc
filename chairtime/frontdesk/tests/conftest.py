"""The desk's fixtures: the demo salon (Ana, Ben; Los Angeles) with an account per
role, and a clock frozen the day before DAY."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from chairtime.frontdesk.models import Role, StaffMember

LA = ZoneInfo("America/Los_Angeles")
DAY = date(2027, 3, 2)  # a Tuesday
NOW = datetime(2027, 3, 1, 16, 0, tzinfo=LA)


@dataclass
class Desk:
    manager: Client
    front: Client
    ana: Client  # Ana's own account: a stylist
    ben: Client
    users: dict


def make_member(django_user_model, username: str, role: str, stylist=None):
    user = django_user_model.objects.create_user(username=username, password="x")
    StaffMember.objects.create(user=user, role=role, stylist=stylist)
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_desk(demo, django_user_model) -> Desk:
    users = {
        "manager": make_member(django_user_model, "maria", Role.MANAGER),
        "front": make_member(django_user_model, "fred", Role.FRONT_DESK),
        "ana": make_member(django_user_model, "ana", Role.STYLIST, demo.ana),
        "ben": make_member(django_user_model, "ben", Role.STYLIST, demo.ben),
    }
    return Desk(*(logged_in(users[k]) for k in ("manager", "front", "ana", "ben")), users=users)


@pytest.fixture
def clock():
    # Before the logins: a session made in real time would have expired by 2027.
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk(demo, django_user_model, clock) -> Desk:
    return make_desk(demo, django_user_model)


# The browser tests' Chromium (Debian's, no downloaded browsers), as the booking pages'.
from chairtime.booking.tests.conftest import browser_type_launch_args  # noqa: E402, F401
