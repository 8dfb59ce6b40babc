from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from chairtime.announcements.store import AnnouncementStore

DEMO_FILE = Path(settings.BASE_DIR) / "demo" / "announcements.json"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def write_json(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "announcements.json"
    path.write_text(json.dumps(data))
    return path


def test_it_creates_the_table_then_finds_it_there(announcement_store, settings):
    settings.ANNOUNCEMENTS_TABLE = f"{announcement_store.table_name}-cmd"

    first = run("create_announcements_table")
    second = run("create_announcements_table")

    assert f"Created table {settings.ANNOUNCEMENTS_TABLE}." in first
    assert "Enabled TTL on expires_at." in first
    assert f"Table {settings.ANNOUNCEMENTS_TABLE} already exists." in second
    assert "TTL on expires_at is already enabled." in second
    client = AnnouncementStore.from_settings().client
    ttl = client.describe_time_to_live(TableName=settings.ANNOUNCEMENTS_TABLE)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    client.delete_table(TableName=settings.ANNOUNCEMENTS_TABLE)


def test_it_fails_the_table_command_clearly_when_dynamodb_is_down(refused_endpoint):
    with pytest.raises(
        CommandError, match="Could not set up the announcements table: EndpointConnectionError"
    ):
        run("create_announcements_table")


def test_it_loads_the_demo_file(announcement_store):
    output = run("load_announcements", str(DEMO_FILE))

    demo = json.loads(DEMO_FILE.read_text())
    stored = {a.id: a for a in announcement_store.list_all()}
    assert sorted(stored) == sorted(entry["id"] for entry in demo)
    for entry in demo:
        assert stored[entry["id"]].text == entry["text"]
    assert stored["courtyard-entrance"].ends_at == datetime(2030, 12, 31, 23, 0, tzinfo=UTC)
    assert "3 created, 0 updated, 0 unchanged" in output


def test_it_loads_the_same_file_twice_without_changing_anything(announcement_store):
    run("load_announcements", str(DEMO_FILE))
    before = {a.id: a for a in announcement_store.list_all()}

    output = run("load_announcements", str(DEMO_FILE))

    assert "0 created, 0 updated, 3 unchanged" in output
    assert {a.id: a for a in announcement_store.list_all()} == before


def test_it_updates_a_changed_entry_and_keeps_its_creation_time(announcement_store, tmp_path):
    path = write_json(tmp_path, [{"id": "hours", "text": "Open until 7 pm"}])
    run("load_announcements", str(path))
    [original] = announcement_store.list_all()

    write_json(tmp_path, [{"id": "hours", "text": "Open until 8 pm", "ends_at": "2027-01-01T00:00:00+01:00"}])
    output = run("load_announcements", str(path))

    [updated] = announcement_store.list_all()
    assert "0 created, 1 updated, 0 unchanged" in output
    assert updated.text == "Open until 8 pm"
    assert updated.ends_at == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert updated.created_at == original.created_at
    assert updated.updated_at > original.updated_at


# Each bad entry comes after a good one: nothing may be written before the whole
# file has been checked.
GOOD = {"id": "first-good", "text": "Fine"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not valid JSON"),
        ({"id": "x", "text": "a dict, not a list"}, "must contain a JSON list"),
        ([GOOD, "just a string"], "entry 2: entry: Each entry must be a JSON object"),
        ([GOOD, {"id": "no-text"}], "entry 2 (id 'no-text'): text: This field is required"),
        ([GOOD, {"text": "No id"}], "entry 2: id: This field is required"),
        ([GOOD, {"id": "a b", "text": "Bad id"}], "entry 2 (id 'a b'): id: Use 1 to 64 letters"),
        (
            [GOOD, {"id": "blank", "text": "   "}],
            "entry 2 (id 'blank'): text: An announcement needs some text",
        ),
        ([GOOD, {"id": "long", "text": "x" * 501}], "entry 2 (id 'long'): text: Keep it to 500 characters"),
        ([GOOD, {"id": "num", "text": 42}], "entry 2 (id 'num'): text: The text must be a string"),
        (
            [GOOD, {"id": "naive", "text": "Hi", "starts_at": "2026-12-01T09:00:00"}],
            "entry 2 (id 'naive'): starts_at: '2026-12-01T09:00:00' has no UTC offset",
        ),
        (
            [GOOD, {"id": "bad-date", "text": "Hi", "ends_at": "next week"}],
            "entry 2 (id 'bad-date'): ends_at: 'next week' is not an ISO 8601 time",
        ),
        (
            [
                GOOD,
                {
                    "id": "backwards",
                    "text": "Hi",
                    "starts_at": "2026-12-02T00:00Z",
                    "ends_at": "2026-12-01T00:00Z",
                },
            ],
            "entry 2 (id 'backwards'): ends_at: The end must be after the start",
        ),
        (
            [GOOD, {"id": "extra", "text": "Hi", "colour": "red"}],
            "entry 2 (id 'extra'): entry: Unknown field(s) colour",
        ),
        ([GOOD, {"id": "first-good", "text": "Again"}], "entry 2 (id 'first-good'): the id appears twice"),
        (
            [GOOD, {"id": "for-ever", "text": "Hi", "ends_at": "9999-12-31T20:00:00-08:00"}],
            "entry 2 (id 'for-ever'): ends_at: Give a time between the years 2000 and 2999.",
        ),
    ],
)
def test_it_rejects_a_bad_file_and_writes_nothing(announcement_store, tmp_path, content, message):
    run("load_announcements", str(write_json(tmp_path, [{"id": "existing", "text": "Already there"}])))
    before = announcement_store.list_all()
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))

    with pytest.raises(CommandError) as error:
        run("load_announcements", str(path))

    assert message in str(error.value)
    assert announcement_store.list_all() == before


def test_it_names_a_file_it_cannot_read(announcement_store, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.json: No such file or directory"):
        run("load_announcements", str(tmp_path / "missing.json"))


def test_it_fails_loading_clearly_when_dynamodb_is_down(refused_endpoint):
    with pytest.raises(CommandError, match="DynamoDB failed after 0 write\\(s\\): EndpointConnectionError"):
        run("load_announcements", str(DEMO_FILE))
