"""The webhooks function's resolver: the vendors' receipt routes (`notifier.api.routes.webhooks`),
answering every refusal in the API's one error shape (`notifier.api.answers`). It reads no setting when
imported, so the published contract includes its routes (`notifier.api.docs`)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from notifier.api.answers import answer_errors
from notifier.api.routes import webhooks

app = APIGatewayRestResolver(enable_validation=True)
app.include_router(webhooks.router)
answer_errors(app)
