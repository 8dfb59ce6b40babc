from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chairtime.announcements.store import (
    PARTITION,
    Announcement,
    AnnouncementStore,
    AnnouncementStoreError,
    InvalidAnnouncement,
    Status,
    get_store,
    new_id,
    reset_store,
)
from chairtime.announcements.tests.fixtures import record_attempts

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def make(text: str = "Closed on Monday", **kwargs) -> Announcement:
    return Announcement.new(text=text, now=kwargs.pop("now", NOW), **kwargs)


def test_it_round_trips_put_get_list_and_delete(announcement_store):
    paris = ZoneInfo("Europe/Paris")
    announcement = make(
        starts_at=datetime(2026, 12, 1, 9, 0, tzinfo=paris), ends_at=datetime(2027, 1, 2, 0, 0, tzinfo=paris)
    )

    announcement_store.put(announcement)

    fetched = announcement_store.get(announcement.id)
    assert fetched == announcement
    assert fetched.starts_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert fetched.starts_at.tzinfo is UTC
    assert announcement_store.list_all() == [announcement]

    assert announcement_store.delete(announcement.id) is True
    assert announcement_store.get(announcement.id) is None
    assert announcement_store.list_all() == []
    assert announcement_store.delete(announcement.id) is False


def test_it_replaces_an_announcement_put_again_with_the_same_id(announcement_store):
    announcement = make()
    announcement_store.put(announcement)
    edited = announcement.edited(
        text="Closed on Tuesday", starts_at=None, ends_at=None, now=NOW + timedelta(hours=1)
    )

    announcement_store.put(edited)

    assert announcement_store.list_all() == [edited]
    assert announcement_store.get(announcement.id).created_at == NOW
    assert announcement_store.get(announcement.id).updated_at == NOW + timedelta(hours=1)


def test_it_lists_with_one_query_and_never_a_scan(announcement_store, dynamodb_requests):
    for n in range(3):
        announcement_store.put(make(f"News {n}"))
    dynamodb_requests.clear()

    assert len(announcement_store.list_all()) == 3

    assert dynamodb_requests == ["Query"]


def test_it_lists_with_a_strongly_consistent_query(announcement_store):
    # The list read right after a staff edit is cached; an eventually consistent
    # read could cache the state from before the edit.
    sent = []
    announcement_store.client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **kwargs: sent.append(dict(params))
    )

    announcement_store.list_all()

    [params] = sent
    assert params["ConsistentRead"] is True
    assert params["KeyConditionExpression"] == "#pk = :pk"
    assert params["ExpressionAttributeValues"] == {":pk": {"S": PARTITION}}


def test_it_follows_query_pages_to_the_end(announcement_store, dynamodb_requests):
    announcement_store.page_size = 2
    announcements = [make(f"News {n}", now=NOW + timedelta(seconds=n)) for n in range(5)]
    for announcement in announcements:
        announcement_store.put(announcement)
    dynamodb_requests.clear()

    listed = announcement_store.list_all()

    # Ids are ULIDs, so the sort key returns them in creation order.
    assert listed == announcements
    assert dynamodb_requests == ["Query", "Query", "Query"]


def test_it_reads_only_its_own_partition(announcement_store):
    announcement_store.client.put_item(
        TableName=announcement_store.table_name,
        Item={"pk": {"S": "SOMETHING-ELSE"}, "sk": {"S": "x"}, "text": {"S": "not an announcement"}},
    )
    announcement = make()
    announcement_store.put(announcement)

    assert announcement_store.list_all() == [announcement]


def test_it_stores_the_ttl_attribute_30_days_after_the_end(announcement_store):
    ending = make(ends_at=datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    open_ended = make("Open-ended")
    announcement_store.put(ending)
    announcement_store.put(open_ended)

    def raw(announcement_id: str) -> dict:
        return announcement_store.client.get_item(
            TableName=announcement_store.table_name,
            Key={"pk": {"S": PARTITION}, "sk": {"S": announcement_id}},
        )["Item"]

    assert raw(ending.id)["expires_at"] == {
        "N": str(int(datetime(2027, 1, 30, 23, 0, tzinfo=UTC).timestamp()))
    }
    assert "expires_at" not in raw(open_ended.id)
    assert raw(ending.id)["ends_at"] == {"S": "2026-12-31T23:00:00+00:00"}


def test_it_skips_a_malformed_item_with_a_warning(announcement_store, caplog):
    announcement_store.client.put_item(
        TableName=announcement_store.table_name,
        Item={"pk": {"S": PARTITION}, "sk": {"S": "hand-made"}, "text": {"S": "no dates"}},
    )
    announcement = make()
    announcement_store.put(announcement)

    assert announcement_store.list_all() == [announcement]
    [record] = [r for r in caplog.records if r.name == "chairtime.announcements"]
    assert record.levelname == "WARNING"
    assert record.sk == str({"S": "hand-made"})


def test_it_refuses_to_get_an_id_that_could_not_be_a_key(announcement_store, dynamodb_requests):
    assert announcement_store.get("../etc/passwd") is None
    assert announcement_store.get("") is None
    assert dynamodb_requests == []


def test_it_creates_the_table_idempotently_with_ttl_on_expires_at(announcement_store):
    store = AnnouncementStore(
        f"{announcement_store.table_name}-other", region="us-east-1", connect_timeout=1, read_timeout=1
    )

    first = store.create_table()
    second = store.create_table()

    assert (first.created, first.ttl) == (True, "enabled")
    assert (second.created, second.ttl) == (False, "already enabled")
    table = store.client.describe_table(TableName=store.table_name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    ttl = store.client.describe_time_to_live(TableName=store.table_name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    store.client.delete_table(TableName=store.table_name)


def test_it_enables_ttl_on_an_existing_table_without_it(announcement_store):
    store = AnnouncementStore(
        f"{announcement_store.table_name}-bare", region="us-east-1", connect_timeout=1, read_timeout=1
    )
    store.create_table(wait=False)
    store.client.update_time_to_live(
        TableName=store.table_name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"}
    )

    setup = store.create_table()

    assert (setup.created, setup.ttl) == (False, "enabled")
    store.client.delete_table(TableName=store.table_name)


def test_it_refuses_a_same_named_table_with_another_key_schema(announcement_store):
    name = f"{announcement_store.table_name}-foreign"
    announcement_store.client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    store = AnnouncementStore(name, region="us-east-1", connect_timeout=1, read_timeout=1)

    with pytest.raises(AnnouncementStoreError) as error:
        store.create_table()

    assert error.value.code == "WrongKeySchema"
    announcement_store.client.delete_table(TableName=name)


def test_it_reports_health_ok_for_an_active_table(announcement_store):
    health = announcement_store.health()

    assert health["status"] == "ok"
    assert health["table"] == announcement_store.table_name
    assert health["detail"] == "ACTIVE"


def test_it_reports_health_error_for_a_missing_table(announcement_store):
    store = AnnouncementStore("no-such-table", region="us-east-1", connect_timeout=1, read_timeout=1)

    health = store.health()

    assert (health["status"], health["table"], health["detail"]) == (
        "error",
        "no-such-table",
        "ResourceNotFoundException",
    )


def test_it_reports_health_error_after_one_attempt_when_dynamodb_refuses_connections(refused_endpoint):
    store = get_store()
    attempts = record_attempts(store.health_client)
    started = time.monotonic()

    health = store.health()

    assert time.monotonic() - started < 3
    assert health["status"] == "error"
    assert health["detail"] == "EndpointConnectionError"
    # Neither the endpoint nor any other message text leaks into the probe's answer.
    assert "127.0.0.1" not in str(health)
    # A readiness probe never waits through a retry.
    assert attempts == ["DynamoDB_20120810.DescribeTable"]


def test_it_tries_a_dead_endpoint_at_most_twice_per_call(refused_endpoint):
    store = get_store()
    attempts = record_attempts(store.client)

    with pytest.raises(AnnouncementStoreError) as error:
        store.list_all()

    assert error.value.code == "EndpointConnectionError"
    assert attempts == ["DynamoDB_20120810.Query"] * 2


def test_it_gives_up_on_a_hanging_endpoint_after_the_read_timeout(hanging_endpoint):
    store = get_store()
    assert store.read_timeout == 0.3
    attempts = record_attempts(store.client)
    started = time.monotonic()

    with pytest.raises(AnnouncementStoreError) as error:
        store.list_all()

    assert error.value.code == "ReadTimeoutError"
    assert len(attempts) == 2
    # A loose bound: two attempts, at most 1 s of back-off, slack for a busy machine.
    assert time.monotonic() - started < 2 * (store.connect_timeout + store.read_timeout) + 3


def test_it_rebuilds_the_store_when_its_settings_change(settings):
    before = get_store()

    settings.ANNOUNCEMENTS_TABLE = "renamed-announcements"

    assert get_store() is not before
    assert get_store().table_name == "renamed-announcements"
    reset_store()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"text": ""}, "text", "needs some text"),
        ({"text": "   \n"}, "text", "needs some text"),
        ({"text": "x" * 501}, "text", "500 characters or fewer (this has 501)"),
        ({"starts_at": datetime(2026, 12, 1, 9, 0)}, "starts_at", "time zone"),
        (
            {"starts_at": datetime(2026, 12, 2, tzinfo=UTC), "ends_at": datetime(2026, 12, 2, tzinfo=UTC)},
            "ends_at",
            "end must be after the start",
        ),
        (
            {"starts_at": datetime(2026, 12, 2, tzinfo=UTC), "ends_at": datetime(2026, 12, 1, tzinfo=UTC)},
            "ends_at",
            "end must be after the start",
        ),
    ],
)
def test_it_refuses_to_make_an_invalid_announcement(fields, field, message):
    values = {"text": "Hello", "starts_at": None, "ends_at": None} | fields

    with pytest.raises(InvalidAnnouncement) as error:
        Announcement.new(now=NOW, **values)

    assert error.value.field == field
    assert message in error.value.message


def test_it_accepts_500_characters_exactly():
    assert len(make("x" * 500).text) == 500


def test_it_refuses_an_id_that_is_not_url_and_key_safe():
    with pytest.raises(InvalidAnnouncement) as error:
        Announcement(id="a/b", text="Hi", starts_at=None, ends_at=None, created_at=NOW, updated_at=NOW)

    assert error.value.field == "id"


def test_it_makes_ids_that_sort_by_creation_time():
    ids = [new_id(NOW + timedelta(milliseconds=n)) for n in range(50)]

    assert sorted(ids) == ids
    assert all(len(i) == 26 for i in ids)
    assert len({new_id(NOW) for _ in range(100)}) == 100


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (datetime(2026, 12, 1, 7, 59, 59, tzinfo=UTC), Status.SCHEDULED),
        (datetime(2026, 12, 1, 8, 0, tzinfo=UTC), Status.VISIBLE),
        (datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC), Status.VISIBLE),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), Status.EXPIRED),
    ],
)
def test_it_is_visible_from_its_start_until_just_before_its_end(now, status):
    announcement = make(
        starts_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC), ends_at=datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    )

    assert announcement.status(now) is status
    assert announcement.is_visible(now) is (status is Status.VISIBLE)


def test_it_is_always_visible_without_a_window():
    announcement = make()

    assert announcement.is_visible(datetime(1999, 1, 1, tzinfo=UTC))
    assert announcement.is_visible(datetime(2999, 1, 1, tzinfo=UTC))
