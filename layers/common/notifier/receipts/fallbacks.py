"""Receipts from the providers the stack reaches with its own role: Amazon SES's event publishing and
AWS End User Messaging SMS's events, each published by the stack's configuration set to one SNS topic,
delivered to one SQS queue, and read here by the webhooks function in batches.

No signature to check: only the topic may send to the queue, and only SES and End User Messaging of
this account may publish to the topic (template.yaml). A record that is neither provider's event fails
alone (a partial batch response) and reaches the queue's DLQ; the others are applied as the vendors'
webhooks are (`notifier.receipts.ingest`), a repeated event recognised by its id.
"""

from __future__ import annotations

from typing import Any

from notifier.platform.logs import logger
from notifier.receipts.eum import read_eum_events
from notifier.receipts.ingest import ReceiptDeps, ingest
from notifier.receipts.models import Receipt
from notifier.receipts.ses import read_ses_events, sns_message


def read(body: str) -> tuple[str, list[Receipt]]:
    """Which provider the record's event is from, and its receipts. ValueError when it is neither's."""
    event = sns_message(body, "an SES or End User Messaging event")
    if "mail" in event:
        return "ses", read_ses_events(body)
    if str(event.get("eventType", "")).startswith("TEXT_"):
        return "eum", read_eum_events(body)
    raise ValueError(
        "neither an SES event (no mail) nor an End User Messaging SMS event (no TEXT_ eventType)"
    )


def handle_records(event: dict[str, Any], deps: ReceiptDeps) -> dict[str, Any]:
    """Each record of an SQS batch applied; the ones that are not receipts reported failed."""
    failures = []
    by_provider: dict[str, list[Receipt]] = {}
    for record in event.get("Records", []):
        try:
            provider, receipts = read(record["body"])
        except ValueError as refused:
            logger.error(
                "not a receipt", extra={"message_id": record.get("messageId"), "error": str(refused)}
            )
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        by_provider.setdefault(provider, []).extend(receipts)
    for provider, receipts in by_provider.items():
        applied = ingest(provider, receipts, deps)
        logger.info("receipts applied", extra={"provider": provider, "applied": str(applied)})
    return {"batchItemFailures": failures}
