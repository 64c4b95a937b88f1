"""The inbox as its users see it: what the REST routes, the WebSocket's frames and the in-app consumer
do to a recipient's inbox, and what each of them tells the recipient's open apps and the statuses.

- An item arrives (`arrived`): it is posted to the recipient's live connections with the new counts;
  reaching one of them makes its notification DELIVERED.
- A page is fetched (`page`): the items on it not yet DELIVERED become so (an app has them).
- A mark (`mark`, `mark_all`) changes the items, then posts the counts to every live connection of
  the recipient, so each open tab agrees. Reading an item records its notification as opened (with
  the time) and so DELIVERED, on the same forward-only status rules as vendors' receipts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from notifier.inbox.live import Frame, LiveConnections, counts_frame, item_view, notification_frame
from notifier.models.channels import Channel, Priority
from notifier.models.responses import InboxCounts, InboxPageView
from notifier.platform.metrics import NOTIFICATIONS_DELIVERED, channel_metrics
from notifier.receipts.models import Receipt, ReceiptKind
from notifier.stores.inbox import InboxItem, InboxStore, Mark

if TYPE_CHECKING:
    from notifier.stores.receipts import ReceiptStore


class Inbox:
    def __init__(
        self,
        store: InboxStore,
        live: LiveConnections | None,
        receipts: Callable[[], ReceiptStore],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.live = live
        self._receipts = receipts
        self.clock = clock

    def arrived(self, item: InboxItem) -> int:
        """Tell the recipient's open apps about a new item; how many connections got it."""
        if self.live is None:
            return 0

        def frames() -> list[Frame]:  # the counts are read only when someone is connected
            return [notification_frame(item), counts_frame(*self.store.counts(item.recipient_id))]

        reached = self.live.tell(item.recipient_id, frames)
        if reached:
            self._record(ReceiptKind.DELIVERED, item.recipient_id, [item])
        return reached

    def page(
        self, recipient_id: str, *, status: str, archived: str, limit: int, after: str | None
    ) -> InboxPageView:
        page = self.store.page(recipient_id, status=status, archived=archived, limit=limit, after=after)
        unread, unseen = self.store.counts(recipient_id)
        self._record(ReceiptKind.DELIVERED, recipient_id, [i for i in page.items if not i.delivered])
        return InboxPageView(
            items=[item_view(item) for item in page.items],
            unread_count=unread,
            unseen_count=unseen,
            next=page.next,
        )

    def mark(self, recipient_id: str, notification_ids: Sequence[str], mark: Mark) -> InboxCounts:
        """Mark each item (NotFoundError for one the recipient does not have), then tell the counts."""
        marked = [self.store.marked(recipient_id, nid, mark) for nid in dict.fromkeys(notification_ids)]
        return self._after(recipient_id, [item for item, changed in marked if changed], mark)

    def mark_all(self, recipient_id: str, mark: Mark) -> InboxCounts:
        return self._after(recipient_id, self.store.mark_all(recipient_id, mark), mark)

    def counts(self, recipient_id: str) -> InboxCounts:
        unread, unseen = self.store.counts(recipient_id)
        return InboxCounts(marked=0, unread_count=unread, unseen_count=unseen)

    def _after(self, recipient_id: str, changed: Sequence[InboxItem], mark: Mark) -> InboxCounts:
        if mark is Mark.READ:
            self._record(ReceiptKind.OPENED, recipient_id, changed)
        unread, unseen = self.store.counts(recipient_id)
        if changed and self.live is not None:
            self.live.tell(recipient_id, [counts_frame(unread, unseen)])
        return InboxCounts(marked=len(changed), unread_count=unread, unseen_count=unseen)

    def _record(self, kind: ReceiptKind, recipient_id: str, items: Sequence[InboxItem]) -> None:
        """Record on each item's notification that an app has it (DELIVERED) or read it (OPENED, which
        is DELIVERED too), on the status rules of every receipt; then remember on the items not yet
        marked so that their notification is DELIVERED, so a later fetch does not say it again."""
        from notifier.stores.receipts import Effect  # noqa: PLC0415 - not at the publish function's cold start

        now = self.clock()
        for item in items:
            receipt = Receipt(kind, Channel.INAPP, item.notification_id, now)
            applied = self._receipts().apply(receipt, item.notification_id)
            if applied.effect is Effect.CHANGED and (kind is ReceiptKind.DELIVERED or applied.delivered):
                priority = applied.priority or Priority.STANDARD
                channel_metrics.count(NOTIFICATIONS_DELIVERED, channel=Channel.INAPP, priority=priority)
        undelivered = [item.notification_id for item in items if not item.delivered]
        if undelivered:
            self.store.set_delivered(recipient_id, undelivered)
