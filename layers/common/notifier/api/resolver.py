"""The REST API's resolver: the routes, by resource (`notifier.api.routes`: events, status, push
receipts, recipients, inboxes, suppressions, docs, each a Powertools Router), and every refusal
answered through one table (`notifier.api.answers`). The vendors' webhooks are another function's
(`notifier.receipts.resolver`).

It reads no setting when imported, so the published contract (`build.openapi`) is generated from it
without a deployment; the publish function's handler (`notifier.api.handler`) puts it behind the edge.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from notifier.api import strict_json
from notifier.api.answers import answer_errors
from notifier.api.routes import docs, events, inbox, receipts, recipients, status, suppressions

app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=strict_json.loads)
for router in (
    events.router,
    status.router,
    receipts.router,
    recipients.router,
    inbox.router,
    suppressions.router,
    docs.router_for(app),
):
    app.include_router(router)
answer_errors(app)
