"""The inbox store against moto, with the table as the template will create it (five sparse local
secondary indexes): newest first, the filters, counts that follow every mark and survive the TTL's
deletions, cursors over several pages that cannot be turned to another inbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from notifier.errors import InvalidRequestError, NotFoundError
from notifier.stores.inbox import INDEXES, InboxItem, InboxStore, Mark

TABLE = "inbox-tests"
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[InboxStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "recipient_id", "AttributeType": "S"},
                {"AttributeName": "notification_id", "AttributeType": "S"},
                *({"AttributeName": f"{index}_key", "AttributeType": "S"} for index in INDEXES),
            ],
            KeySchema=[
                {"AttributeName": "recipient_id", "KeyType": "HASH"},
                {"AttributeName": "notification_id", "KeyType": "RANGE"},
            ],
            LocalSecondaryIndexes=[
                {
                    "IndexName": index,
                    "KeySchema": [
                        {"AttributeName": "recipient_id", "KeyType": "HASH"},
                        {"AttributeName": f"{index}_key", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in INDEXES
            ],
        )
        yield InboxStore(TABLE, client, ttl=timedelta(days=90), clock=lambda: T0 + timedelta(hours=1))


def item(n: int, recipient: str = "ana") -> InboxItem:
    return InboxItem(
        recipient_id=recipient,
        notification_id=f"n-{n}",
        event_type="LIKE",
        title=f"title {n}",
        body=f"body {n}",
        data={"n": n},
        created_at=T0 + timedelta(minutes=n),
    )


def ids(store: InboxStore, **query) -> list[str]:
    return [i.notification_id for i in store.page("ana", limit=50, **query).items]


def test_items_come_newest_first_and_a_second_delivery_stores_nothing(store):
    for n in (1, 3, 2):
        assert store.put(item(n))
    assert not store.put(item(2))

    assert ids(store) == ["n-3", "n-2", "n-1"]
    assert store.get("ana", "n-2") == item(2)
    assert store.counts("ana") == (3, 3)


def test_each_mark_moves_the_counts_and_the_listings(store):
    for n in range(1, 5):
        store.put(item(n))

    store.mark("ana", "n-1", Mark.SEEN)
    store.mark("ana", "n-2", Mark.READ)
    store.mark("ana", "n-3", Mark.ARCHIVED)

    assert store.counts("ana") == (2, 1)  # unread: n-1, n-4; unseen: n-4 (n-3 archived)
    assert ids(store, status="unread") == ["n-4", "n-1"]
    assert ids(store, status="unseen") == ["n-4"]
    assert ids(store) == ["n-4", "n-2", "n-1"]
    assert ids(store, archived="only") == ["n-3"]
    assert ids(store, archived="include") == ["n-4", "n-3", "n-2", "n-1"]
    assert ids(store, status="unread", archived="include") == ["n-4", "n-3", "n-1"]

    store.mark("ana", "n-2", Mark.UNREAD)
    store.mark("ana", "n-3", Mark.UNARCHIVED)

    assert store.counts("ana") == (4, 2)
    read_again = store.get("ana", "n-2")
    assert read_again.read_at is None
    assert read_again.seen_at == T0 + timedelta(hours=1)  # unread keeps it seen


def test_a_mark_twice_changes_nothing_the_second_time(store):
    store.put(item(1))

    first = store.mark("ana", "n-1", Mark.READ)
    again = store.mark("ana", "n-1", Mark.READ)

    assert first == again
    assert store.counts("ana") == (0, 0)


def test_an_item_the_ttl_deletes_leaves_the_counts(store):
    store.put(item(1))
    store.put(item(2))

    store.client.delete_item(
        TableName=TABLE, Key={"recipient_id": {"S": "ana"}, "notification_id": {"S": "n-1"}}
    )

    assert store.counts("ana") == (1, 1)


def test_items_expire_after_the_ttl(store):
    store.put(item(1))

    stored = store.client.get_item(
        TableName=TABLE, Key={"recipient_id": {"S": "ana"}, "notification_id": {"S": "n-1"}}
    )["Item"]

    assert int(stored["expires_at"]["N"]) == int((item(1).created_at + timedelta(days=90)).timestamp())


def test_a_mark_of_an_item_the_recipient_does_not_have_is_not_found(store):
    store.put(item(1, recipient="ben"))

    with pytest.raises(NotFoundError):
        store.mark("ana", "n-1", Mark.READ)


def test_pages_follow_each_other_to_the_end(store):
    for n in range(1, 8):
        store.put(item(n))
    seen: list[str] = []
    after = None
    while True:
        page = store.page("ana", limit=3, after=after)
        seen += [i.notification_id for i in page.items]
        if page.next is None:
            break
        after = page.next

    assert seen == [f"n-{n}" for n in range(7, 0, -1)]


def test_a_filtered_page_is_filled_to_its_limit(store):
    for n in range(1, 9):
        store.put(item(n))
        if n % 2:
            store.mark("ana", f"n-{n}", Mark.READ)

    page = store.page("ana", status="unread", archived="include", limit=3)

    assert [i.notification_id for i in page.items] == ["n-8", "n-6", "n-4"]


def test_a_cursor_cannot_be_turned_to_another_inbox_or_listing(store):
    for n in range(1, 4):
        store.put(item(n))
        store.put(item(n, recipient="ben"))
    cursor = store.page("ana", limit=1).next
    assert cursor is not None

    for bad in (
        lambda: store.page("ben", limit=1, after=cursor),
        lambda: store.page("ana", limit=1, after=cursor, archived="include"),
        lambda: store.page("ana", limit=1, after="not-a-cursor"),
        lambda: store.page("ana", limit=1, after="e30"),
    ):
        with pytest.raises(InvalidRequestError) as refused:
            bad()
        assert list(refused.value.problems) == ["after"]


def test_mark_all_changes_only_what_it_names_and_leaves_other_inboxes_alone(store):
    for n in range(1, 6):
        store.put(item(n))
    store.put(item(9, recipient="ben"))
    store.mark("ana", "n-1", Mark.READ)
    store.mark("ana", "n-2", Mark.ARCHIVED)

    seen = store.mark_all("ana", Mark.SEEN)
    assert sorted(i.notification_id for i in seen) == ["n-3", "n-4", "n-5"]  # n-1 was read, n-2 archived
    assert store.counts("ana") == (3, 0)
    read = store.mark_all("ana", Mark.READ)
    assert sorted(i.notification_id for i in read) == ["n-3", "n-4", "n-5"]
    assert store.counts("ana") == (0, 0)
    assert store.mark_all("ana", Mark.READ) == []
    archived = store.mark_all("ana", Mark.ARCHIVED)
    assert sorted(i.notification_id for i in archived) == ["n-1", "n-3", "n-4", "n-5"]
    assert ids(store) == []
    assert store.counts("ben") == (1, 1)


def test_mark_all_takes_seen_read_or_archived_only(store):
    for mark in (Mark.UNREAD, Mark.UNARCHIVED):
        with pytest.raises(InvalidRequestError) as refused:
            store.mark_all("ana", mark)
        assert list(refused.value.problems) == ["mark"]


def test_mark_all_stops_at_its_limit_and_the_next_call_takes_the_rest(store, monkeypatch):
    monkeypatch.setattr("notifier.stores.inbox.MARK_ALL_LIMIT", 4)
    for n in range(1, 11):
        store.put(item(n))

    assert len(store.mark_all("ana", Mark.READ)) == 4
    assert store.counts("ana") == (6, 6)
    assert len(store.mark_all("ana", Mark.READ)) == 4
    assert len(store.mark_all("ana", Mark.READ)) == 2
    assert store.counts("ana") == (0, 0)


def test_marked_says_whether_the_mark_changed_the_item(store):
    store.put(item(1))

    assert store.marked("ana", "n-1", Mark.READ)[1] is True
    assert store.marked("ana", "n-1", Mark.READ)[1] is False
    assert store.marked("ana", "n-1", Mark.SEEN)[1] is False  # read is seen already
    assert store.marked("ana", "n-1", Mark.UNREAD)[1] is True


def test_delivered_is_remembered_per_item(store):
    store.put(item(1))
    store.put(item(2))

    store.set_delivered("ana", ["n-2", "n-404"])  # an item gone meanwhile is no error

    assert [i.delivered for i in store.page("ana").items] == [True, False]
    assert store.get("ana", "n-404") is None
