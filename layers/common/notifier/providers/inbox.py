"""The in-app channel's provider: the recipient's inbox (`notifier.stores.inbox`), where sending is
storing, and then telling the recipient's open apps (`notifier.inbox.service.Inbox.arrived`).

An item is written once per (recipient, notification): a second copy of the SQS message stores
nothing and answers the same id, so the status still reaches SENT once. A copy whose item no open app
has been told of yet (the first copy stopped between storing and telling) tells them. The provider
message id is the inbox's key, `<recipient>/<notification>`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from notifier.errors import PermanentDeliveryError
from notifier.inbox.service import Inbox
from notifier.models.channels import Channel
from notifier.models.envelope import InAppMessage
from notifier.providers.base import Delivery, Provider
from notifier.stores.inbox import InboxItem


class InboxProvider(Provider):
    name = "inbox"

    def __init__(
        self,
        inbox: Inbox,
        *,
        max_concurrency: int = 10,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(Channel.INAPP, max_concurrency=max_concurrency)
        self.inbox = inbox
        self.clock = clock

    def send(self, delivery: Delivery) -> str:
        message = delivery.message
        if not isinstance(message, InAppMessage):
            raise PermanentDeliveryError(f"the inbox stores in-app messages, not {message.channel}")
        item = InboxItem(
            recipient_id=delivery.address,
            notification_id=delivery.notification_id,
            event_type=message.event_type,
            title=message.title,
            body=message.body,
            data=dict(message.data),
            created_at=self.clock(),
        )
        if not self.inbox.store.put(item):
            stored = self.inbox.store.get(item.recipient_id, item.notification_id)
            item = stored if stored is not None else item
        if not item.delivered:
            self.inbox.arrived(item)
        return f"{delivery.address}/{delivery.notification_id}"
