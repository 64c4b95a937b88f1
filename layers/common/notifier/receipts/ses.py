"""Amazon SES's sending events, read into receipts.

The configuration set SES sends with publishes each event to an SNS topic, and the topic to an SQS
queue: a record's body is SNS's envelope (`{"Type": "Notification", "MessageId", "TopicArn",
"Message": "<the event's JSON>", ...}`), or the event itself when the subscription has raw message
delivery on. Both are read. The event's shape is SES's "Contents of event data that Amazon SES
publishes to Amazon SNS" and its examples
(https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html,
.../event-publishing-retrieving-sns-examples.html): `eventType`, the `mail` object (`messageId`, the
`MessageId` `SendEmail` answered; `destination`; `tags`, each a list of values) and one object named
after the event. Our notification id comes back in `mail.tags.notification_id` (sent as `EmailTags`
by `notifier.providers.ses_email`); an event without it is not ours (`notification_id` None).
Identity notifications, which spell the type `notificationType` and carry no tags, are refused.

How each event is read (`eventType`: receipt):

- `Delivery`: DELIVERED, for each of `delivery.recipients`.
- `Bounce` whose `bounceType` is `Permanent`: BOUNCED, for each bounced recipient, the address
  suppressed (SES: "you will not be able to send to them in the future"); the reason is the
  recipient's `diagnosticCode` (or `status`, or the `bounceSubType`).
- `Bounce`, `Transient` or `Undetermined`: DEFERRED, the reason kept and the status left SENT; SES
  has stopped retrying this message, but the address may take a later one, so it is not suppressed.
- `Complaint`: COMPLAINED, for each complained recipient, the address suppressed; but ignored when
  `complaintFeedbackType` is `not-spam` (the reporter says it is not spam), and BOUNCED (suppressed)
  when `complaintSubType` is `OnAccountSuppressionList`: SES did not send it, the address being on
  the account's suppression list.
- `Reject`: BOUNCED with SES's reason ("Bad content": a virus), not suppressed: it is the content.
- `Rendering Failure`: BOUNCED with the template's error, not suppressed: nothing was sent (it
  happens with templates only, which this service does not send).
- `DeliveryDelay`: DEFERRED, for each delayed recipient, with the delay type and diagnostic code.
- `Open`, `Click`: OPENED, CLICKED.
- `Subscription` whose new preferences unsubscribe from all topics or from one: UNSUBSCRIBED, the
  address suppressed. Any other `Subscription` (a subscribe), `Send`, and any type SES adds later:
  ignored (no receipt).

An event about recipients (Delivery, Bounce, Complaint, DeliveryDelay) is one receipt per recipient
it names; an event about the message (Reject, Rendering Failure, Open, Click, Subscription) is one
receipt, whose address is the message's destination when it has exactly one (this service sends each
e-mail to one address; with several, nobody is suppressed on the strength of a guess).

Each receipt's `event_id` is the message's id, the event's type and a digest of the recipient's
address (no address is kept in the table that remembers event ids): the same event delivered again
(SNS and SQS deliver at least once) is recognised, and a second Open or DeliveryDelay of the same
message changes nothing that the first did not.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from notifier.models.channels import Channel
from notifier.receipts.models import Receipt, ReceiptKind

TAG_NAME = "notification_id"
"""The message tag that carries our notification id (`notifier.providers.ses_email.TAG_NAME`)."""
MAX_REASON = 500

_PER_RECIPIENT = {
    "Delivery": ("delivery", "recipients"),
    "Bounce": ("bounce", "bouncedRecipients"),
    "Complaint": ("complaint", "complainedRecipients"),
    "DeliveryDelay": ("deliveryDelay", "delayedRecipients"),
}
"""Event type: its object, and the list of recipients in it."""
_PER_MESSAGE = {
    "Reject": "reject",
    "Rendering Failure": "failure",
    "Open": "open",
    "Click": "click",
    "Subscription": "subscription",
}


def sns_message(body: str, what: str) -> dict[str, Any]:
    """The JSON object an SQS record's body carries: the `Message` of SNS's envelope, or the body
    itself (raw message delivery). ValueError, naming `what` was expected, when it is neither."""
    document = _object(body, f"the body is not {what}: not JSON")
    if "Type" in document and "Message" in document:  # SNS's envelope
        if document["Type"] != "Notification":
            raise ValueError(f"the body is an SNS {document['Type']!s:.40}, not {what}")
        message = document["Message"]
        if not isinstance(message, str):
            raise ValueError(f"the SNS envelope's Message is not a string, so not {what}")
        return _object(message, f"the SNS envelope's Message is not {what}: not JSON")
    return document


def _object(text: str, problem: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except (ValueError, TypeError):
        raise ValueError(problem) from None
    if not isinstance(document, dict):
        raise ValueError(problem.replace(": not JSON", ": not a JSON object"))
    return document


def read_ses_events(body: str) -> list[Receipt]:
    """The receipts one SQS record's body (an SES event, in SNS's envelope or raw) is: none when the
    event changes nothing here. ValueError, with the reason, when the body is not an SES event."""
    event = sns_message(body, "an SES event")
    if "eventType" not in event:
        if "notificationType" in event:
            raise ValueError(
                "an SES identity notification (notificationType), not an event published by a "
                "configuration set: it carries no tags, so no notification id"
            )
        raise ValueError("not an SES event: no eventType")
    kind = event["eventType"]
    if not isinstance(kind, str) or not kind:
        raise ValueError("eventType: not a string")
    mail = _mail(event)
    if kind in _PER_RECIPIENT:
        return _per_recipient(kind, event, mail)
    if kind in _PER_MESSAGE:
        receipt = _per_message(kind, event, mail)
        return [receipt] if receipt is not None else []
    return []  # Send, and any type SES adds later


class _Mail:
    """What every event says of the message: its id, our notification id, where it went, when."""

    def __init__(self, message_id: str, notification_id: str | None, destination: list[str], sent: datetime):
        self.message_id = message_id
        self.notification_id = notification_id
        self.destination = destination
        self.sent = sent


def _mail(event: dict[str, Any]) -> _Mail:
    mail = event.get("mail")
    if not isinstance(mail, dict):
        raise ValueError("mail: not an object")
    message_id = _text(mail, "messageId", "mail.messageId")
    destination = mail.get("destination", [])
    if not isinstance(destination, list) or not all(isinstance(d, str) for d in destination):
        raise ValueError("mail.destination: not a list of addresses")
    return _Mail(message_id, _notification_id(mail.get("tags")), destination, _when(mail, "mail"))


def _notification_id(tags: Any) -> str | None:
    if tags is None:
        return None
    if not isinstance(tags, dict):
        raise ValueError("mail.tags: not an object")
    values = tags.get(TAG_NAME)
    if values is None:
        return None
    if not isinstance(values, list) or not values or not isinstance(values[0], str) or not values[0]:
        raise ValueError(f"mail.tags.{TAG_NAME}: not a list of strings")
    return values[0]


def _per_recipient(kind: str, event: dict[str, Any], mail: _Mail) -> list[Receipt]:
    name, list_name = _PER_RECIPIENT[kind]
    detail = _detail(event, name)
    recipients = detail.get(list_name)
    if not isinstance(recipients, list) or not recipients:
        raise ValueError(f"{name}.{list_name}: not a list of recipients")
    at = _when(detail, name, default=mail.sent)
    receipts = []
    for index, recipient in enumerate(recipients):
        where = f"{name}.{list_name}[{index}]"
        if isinstance(recipient, str):  # delivery.recipients: addresses
            address, about = recipient, {}
        elif isinstance(recipient, dict):
            address, about = _text(recipient, "emailAddress", f"{where}.emailAddress"), recipient
        else:
            raise ValueError(f"{where}: not a recipient")
        meaning = _recipient_meaning(kind, detail, about)
        if meaning is not None:
            receipt_kind, suppress, source, reason = meaning
            receipts.append(
                _receipt(
                    receipt_kind, mail, kind, at, address, source=source, reason=reason, suppress=suppress
                )
            )
    return receipts


def _recipient_meaning(
    kind: str, detail: dict[str, Any], recipient: dict[str, Any]
) -> tuple[ReceiptKind, bool, str, str | None] | None:
    """The receipt kind, whether to suppress, the source and the reason of one recipient's event."""
    diagnostic = _optional(recipient, "diagnosticCode") or _optional(recipient, "status")
    if kind == "Delivery":
        return ReceiptKind.DELIVERED, False, "ses delivery", None
    if kind == "Bounce":
        bounce_type = _optional(detail, "bounceType") or "Undetermined"
        sub_type = _optional(detail, "bounceSubType") or "Undetermined"
        permanent = bounce_type == "Permanent"
        kind_of = ReceiptKind.BOUNCED if permanent else ReceiptKind.DEFERRED
        return kind_of, permanent, f"ses bounce {bounce_type}/{sub_type}", diagnostic or sub_type
    if kind == "Complaint":
        return _complaint(detail)
    delay = _optional(detail, "delayType") or "delayed"  # DeliveryDelay
    return ReceiptKind.DEFERRED, False, f"ses delivery delay {delay}", diagnostic or delay


def _complaint(detail: dict[str, Any]) -> tuple[ReceiptKind, bool, str, str | None] | None:
    if _optional(detail, "complaintSubType") == "OnAccountSuppressionList":
        source = "ses complaint OnAccountSuppressionList"
        return ReceiptKind.BOUNCED, True, source, "on the account-level suppression list: not sent"
    feedback = _optional(detail, "complaintFeedbackType")
    if feedback == "not-spam":
        return None
    return ReceiptKind.COMPLAINED, True, "ses complaint" + (f" {feedback}" if feedback else ""), None


def _per_message(kind: str, event: dict[str, Any], mail: _Mail) -> Receipt | None:
    name = _PER_MESSAGE[kind]
    detail = _detail(event, name)
    at = _when(detail, name, default=mail.sent)  # reject and failure have no time of their own
    address = mail.destination[0] if len(mail.destination) == 1 else None
    match kind:
        case "Reject":
            reason = _optional(detail, "reason") or "rejected"
            return _receipt(ReceiptKind.BOUNCED, mail, kind, at, address, source="ses reject", reason=reason)
        case "Rendering Failure":
            reason = _optional(detail, "errorMessage") or "the template could not be rendered"
            return _receipt(
                ReceiptKind.BOUNCED, mail, kind, at, address, source="ses rendering failure", reason=reason
            )
        case "Open":
            return _receipt(ReceiptKind.OPENED, mail, kind, at, address, source="ses open")
        case "Click":
            return _receipt(ReceiptKind.CLICKED, mail, kind, at, address, source="ses click")
    if not _unsubscribed(detail):  # Subscription: a subscribe changes nothing here
        return None
    source = "ses subscription" + (f" {detail['source']}" if _optional(detail, "source") else "")
    return _receipt(
        ReceiptKind.UNSUBSCRIBED, mail, kind, at, address, source=source, reason="unsubscribed", suppress=True
    )


def _unsubscribed(subscription: dict[str, Any]) -> bool:
    """Whether the new preferences unsubscribe the contact from all topics, or from one."""
    preferences = subscription.get("newTopicPreferences")
    if not isinstance(preferences, dict):
        raise ValueError("subscription.newTopicPreferences: not an object")
    if preferences.get("unsubscribeAll") is True:
        return True
    topics = preferences.get("topicSubscriptionStatus") or []
    if not isinstance(topics, list):
        raise ValueError("subscription.newTopicPreferences.topicSubscriptionStatus: not a list")
    return any(isinstance(t, dict) and t.get("subscriptionStatus") == "OptOut" for t in topics)


def _receipt(
    kind: ReceiptKind,
    mail: _Mail,
    event_type: str,
    at: datetime,
    address: str | None,
    *,
    source: str,
    reason: str | None = None,
    suppress: bool = False,
) -> Receipt:
    return Receipt(
        kind=kind,
        channel=Channel.EMAIL,
        notification_id=mail.notification_id,
        occurred_at=at,
        event_id=event_id(mail.message_id, event_type, address),
        address=address,
        reason=(f"{source}: {reason}" if reason else source)[:MAX_REASON],
        provider_message_id=mail.message_id,
        suppress=suppress and address is not None,
        source=source,
    )


def event_id(message_id: str, event_type: str, address: str | None) -> str:
    """Stable for one event of one message to one recipient, whenever it is delivered again."""
    if address is None:
        return f"{message_id}:{event_type}"
    digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]
    return f"{message_id}:{event_type}:{digest}"


def _detail(event: dict[str, Any], name: str) -> dict[str, Any]:
    detail = event.get(name)
    if not isinstance(detail, dict):
        raise ValueError(f"{name}: not an object, as its eventType {event['eventType']!r} requires")
    return detail


def _when(holder: dict[str, Any], where: str, *, default: datetime | None = None) -> datetime:
    """`holder.timestamp`, ISO 8601 with its offset (SES writes `2017-08-05T00:41:02.669Z`)."""
    value = holder.get("timestamp")
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{where}.timestamp: not an ISO 8601 time")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}.timestamp: not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ValueError(f"{where}.timestamp: no UTC offset")
    return at


def _text(holder: dict[str, Any], key: str, where: str) -> str:
    value = holder.get(key)
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise ValueError(f"{where}: not a string")
    return value


def _optional(holder: dict[str, Any], key: str) -> str | None:
    value = holder.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None
