"""The back-office pages, through Django's test client and the real admin site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from chairtime.announcements.store import Announcement, current_announcements
from chairtime.booking.models import Salon

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/announcements/"
ADD_URL = "/admin/announcements/add/"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # admin_user is created with a password; the production hasher takes ~1 s here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def paris_salon() -> Salon:
    salon = Salon.load()
    salon.time_zone = "Europe/Paris"
    salon.save()
    return salon


def make(text: str = "Closed on Monday", **kwargs) -> Announcement:
    return Announcement.new(text=text, now=kwargs.pop("now", timezone.now()), **kwargs)


def staff(django_user_model, *, permission: str | None = None) -> User:
    user = django_user_model.objects.create_user("stylist", is_staff=True)
    if permission:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def test_it_names_the_pages_in_the_admin_namespace():
    assert reverse("admin:announcements_list") == LIST_URL
    assert reverse("admin:announcements_add") == ADD_URL
    assert reverse("admin:announcements_change", args=["abc"]) == "/admin/announcements/abc/change/"
    assert reverse("admin:announcements_delete", args=["abc"]) == "/admin/announcements/abc/delete/"


def test_it_lists_announcements_with_their_status_in_salon_time(
    admin_client, announcement_store, paris_salon
):
    now = timezone.now()
    announcement_store.put(make("Visible one"))
    announcement_store.put(make("Scheduled one", starts_at=datetime(2099, 7, 1, 7, 0, tzinfo=UTC)))
    announcement_store.put(make("Expired one", ends_at=now - timedelta(days=1), now=now - timedelta(days=2)))

    response = admin_client.get(LIST_URL)

    assert response.status_code == 200
    rows = {a.text: status for a, status in response.context["rows"]}
    assert {text: status.label for text, status in rows.items()} == {
        "Visible one": "Visible now",
        "Scheduled one": "Scheduled",
        "Expired one": "Expired",
    }
    html = response.content.decode()
    assert "Visible now" in html and "Scheduled" in html and "Expired" in html
    # 07:00 UTC on 1 July is 09:00 in Paris (summer time).
    assert "Wed 1 Jul 2099, 09:00" in html
    assert "Europe/Paris" in html
    assert 'href="/admin/announcements/add/"' in html


def test_it_shows_an_empty_list(admin_client, announcement_store):
    response = admin_client.get(LIST_URL)

    assert response.status_code == 200
    assert "No announcements yet." in response.content.decode()


def test_it_adds_an_announcement_entered_in_salon_time(admin_client, announcement_store, paris_salon):
    with time_machine.travel(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), tick=False):
        response = admin_client.post(
            ADD_URL,
            {
                "text": "  Holiday hours: closed 25 December.  ",
                "starts_at": "2026-12-20T09:00",
                "ends_at": "2026-12-27T00:00",
            },
        )

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    [stored] = announcement_store.list_all()
    assert stored.text == "Holiday hours: closed 25 December."
    # Paris is UTC+1 in winter.
    assert stored.starts_at == datetime(2026, 12, 20, 8, 0, tzinfo=UTC)
    assert stored.ends_at == datetime(2026, 12, 26, 23, 0, tzinfo=UTC)
    assert stored.created_at == stored.updated_at == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    messages = [str(m) for m in admin_client.get(LIST_URL).context["messages"]]
    assert messages == ["The announcement was added. Every public page shows the change within 30 seconds."]


def test_it_adds_an_announcement_without_a_window(admin_client, announcement_store):
    response = admin_client.post(ADD_URL, {"text": "New stylist!", "starts_at": "", "ends_at": ""})

    assert response.status_code == 302
    [stored] = announcement_store.list_all()
    assert (stored.text, stored.starts_at, stored.ends_at) == ("New stylist!", None, None)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"text": ""}, "text", "This field is required."),
        ({"text": "x" * 501}, "text", "Ensure this value has at most 500 characters (it has 501)."),
        (
            {"text": "Hi", "starts_at": "2026-12-02T10:00", "ends_at": "2026-12-02T10:00"},
            "ends_at",
            "The end must be after the start.",
        ),
        (
            {"text": "Hi", "starts_at": "2026-12-02T10:00", "ends_at": "2026-12-01T10:00"},
            "ends_at",
            "The end must be after the start.",
        ),
        ({"text": "Hi", "starts_at": "tomorrow"}, "starts_at", "Enter a valid date/time."),
        ({"text": "Hi", "ends_at": "2026-11-26T12:00"}, "ends_at", "That time has already passed"),
        # Past datetime's range once 30 days of retention are added, or once in UTC.
        ({"text": "Hi", "ends_at": "9999-12-31T23:59"}, "ends_at", "between the years 2000 and 2999"),
        ({"text": "Hi", "starts_at": "0001-01-01T00:00"}, "starts_at", "between the years 2000 and 2999"),
        ({"text": "Hi", "ends_at": "3000-01-01T00:00"}, "ends_at", "between the years 2000 and 2999"),
        # 02:30 does not exist in Paris on the morning clocks go forward.
        (
            {"text": "Hi", "starts_at": "2027-03-28T02:30"},
            "starts_at",
            "be interpreted in time zone Europe/Paris",
        ),
        # 02:30 happens twice in Paris on the morning clocks go back.
        (
            {"text": "Hi", "starts_at": "2027-10-31T02:30"},
            "starts_at",
            "it may be ambiguous or it may not exist",
        ),
    ],
)
def test_it_shows_form_errors_and_stores_nothing(
    admin_client, announcement_store, paris_salon, data, field, message
):
    with time_machine.travel(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), tick=False):
        response = admin_client.post(ADD_URL, {"starts_at": "", "ends_at": ""} | data)

    assert response.status_code == 200
    assert any(message in error for error in response.context["errors"][field])
    assert "Please correct the error below." in response.content.decode()
    assert announcement_store.list_all() == []


def test_it_shows_the_edit_form_in_salon_time(admin_client, announcement_store, paris_salon):
    announcement = make("Summer hours", starts_at=datetime(2099, 7, 1, 7, 0, tzinfo=UTC))
    announcement_store.put(announcement)

    response = admin_client.get(f"/admin/announcements/{announcement.id}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="2099-07-01T09:00"' in html
    assert "Summer hours</textarea>" in html
    assert "Show from (Europe/Paris time)" in html
    assert f'href="/admin/announcements/{announcement.id}/delete/"' in html


def test_it_edits_an_announcement_and_keeps_its_id_and_creation_time(admin_client, announcement_store):
    announcement = make("Typo in tihs", now=timezone.now() - timedelta(days=3))
    announcement_store.put(announcement)

    response = admin_client.post(
        f"/admin/announcements/{announcement.id}/change/",
        {"text": "No typo in this", "starts_at": "", "ends_at": ""},
    )

    assert response.status_code == 302
    [stored] = announcement_store.list_all()
    assert (stored.id, stored.text, stored.created_at) == (
        announcement.id,
        "No typo in this",
        announcement.created_at,
    )
    assert stored.updated_at > announcement.updated_at


def test_it_lets_staff_fix_the_text_of_an_expired_announcement(admin_client, announcement_store, paris_salon):
    ended = timezone.now() - timedelta(days=1)
    announcement = make("Old nwes", ends_at=ended, now=ended - timedelta(days=5))
    announcement_store.put(announcement)
    form_value = timezone.localtime(ended, paris_salon.tz).strftime("%Y-%m-%dT%H:%M")

    response = admin_client.post(
        f"/admin/announcements/{announcement.id}/change/",
        {"text": "Old news", "starts_at": "", "ends_at": form_value},
    )

    assert response.status_code == 302
    stored = announcement_store.get(announcement.id)
    assert stored.text == "Old news"
    assert stored.ends_at == announcement.ends_at  # seconds kept though the picker shows minutes


def test_it_deletes_an_announcement_after_confirmation(admin_client, announcement_store):
    announcement = make("Soon gone")
    announcement_store.put(announcement)
    url = f"/admin/announcements/{announcement.id}/delete/"

    confirmation = admin_client.get(url)
    assert confirmation.status_code == 200
    assert "Are you sure you want to delete this announcement?" in confirmation.content.decode()
    assert announcement_store.get(announcement.id) is not None

    response = admin_client.post(url)

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert announcement_store.get(announcement.id) is None


def test_it_answers_404_for_an_unknown_announcement(admin_client, announcement_store):
    assert admin_client.get("/admin/announcements/01NOPE/change/").status_code == 404
    assert admin_client.get("/admin/announcements/01NOPE/delete/").status_code == 404
    assert admin_client.post("/admin/announcements/01NOPE/change/", {"text": "x"}).status_code == 404
    assert announcement_store.list_all() == []


def test_it_sends_anonymous_visitors_to_the_login_page(client, announcement_store):
    for url in (LIST_URL, ADD_URL):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={url}"

    response = client.post(ADD_URL, {"text": "Sneaky"})
    assert response.status_code == 302
    assert announcement_store.list_all() == []


def test_it_sends_non_staff_users_to_the_login_page(client, django_user_model, announcement_store):
    user = django_user_model.objects.create_user("customer")
    client.force_login(user)

    response = client.get(LIST_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_forbids_staff_without_the_salon_permission(client, django_user_model, announcement_store):
    client.force_login(staff(django_user_model))

    assert client.get(LIST_URL).status_code == 403
    assert client.post(ADD_URL, {"text": "Not allowed"}).status_code == 403
    assert announcement_store.list_all() == []
    index = client.get("/admin/")
    assert LIST_URL not in index.content.decode()


def test_it_lets_staff_with_the_salon_permission_manage_announcements(
    client, django_user_model, announcement_store
):
    client.force_login(staff(django_user_model, permission="booking.change_salon"))

    assert client.get(LIST_URL).status_code == 200
    assert client.post(ADD_URL, {"text": "Allowed", "starts_at": "", "ends_at": ""}).status_code == 302
    assert [a.text for a in announcement_store.list_all()] == ["Allowed"]


def test_it_lists_announcements_on_the_admin_index(admin_client, announcement_store):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    [entry] = [app for app in response.context["app_list"] if app["app_label"] == "announcements"]
    assert entry["models"][0]["admin_url"] == LIST_URL
    assert entry["models"][0]["add_url"] == ADD_URL
    html = response.content.decode()
    assert f'<a href="{LIST_URL}"' in html and f'<a href="{ADD_URL}" class="addlink"' in html


def test_it_explains_when_dynamodb_is_down_instead_of_failing(admin_client, refused_endpoint, caplog):
    response = admin_client.get(LIST_URL)

    assert response.status_code == 503
    assert "cannot be reached right now" in response.content.decode()
    assert any(
        r.name == "chairtime.announcements" and r.error == "EndpointConnectionError" for r in caplog.records
    )


def test_it_keeps_the_typed_text_when_saving_fails(admin_client, refused_endpoint):
    response = admin_client.post(ADD_URL, {"text": "Please keep me", "starts_at": "", "ends_at": ""})

    assert response.status_code == 503
    html = response.content.decode()
    assert "Nothing was saved; your text is still below." in html
    assert "Please keep me</textarea>" in html


@pytest.mark.parametrize("page", ["change", "delete"])
def test_it_explains_when_dynamodb_is_down_on_the_edit_pages(admin_client, refused_endpoint, page):
    response = admin_client.get(f"/admin/announcements/01ANY/{page}/")

    assert response.status_code == 503
    assert "cannot be reached right now" in response.content.decode()


def test_it_explains_when_the_table_is_missing(admin_client, announcement_store, settings):
    settings.ANNOUNCEMENTS_TABLE = "chairtime-announcements-missing"

    response = admin_client.get(LIST_URL)

    assert response.status_code == 503
    assert "cannot be reached right now" in response.content.decode()


def test_it_makes_the_public_pages_show_an_added_announcement_at_once(admin_client, announcement_store):
    assert current_announcements() == []
    admin_client.post(ADD_URL, {"text": "Hot off the press", "starts_at": "", "ends_at": ""})

    assert [a.text for a in current_announcements()] == ["Hot off the press"]


def test_it_says_changes_show_at_once_when_the_cache_is_off(admin_client, announcement_store, settings):
    settings.ANNOUNCEMENTS_CACHE_SECONDS = 0

    admin_client.post(ADD_URL, {"text": "No cache", "starts_at": "", "ends_at": ""})
    response = admin_client.get(LIST_URL)

    assert [str(m) for m in response.context["messages"]] == [
        "The announcement was added. The public pages show the change at once."
    ]
    assert "Changes reach the public pages at once." in response.content.decode()
