"""Who may read and mark an inbox: the app's backend with the API key, or the app's client with an
inbox token for that recipient.

API Gateway cannot take one credential or the other on a route (a method's authorizer and its API key
are both enforced), so the inbox routes ask the gateway for none (`security: []` in the template) and
are checked here, before anything is read:

- `Authorization: Bearer <token>`: an inbox token of this stack (`notifier.inbox.tokens`), valid, for
  this recipient. Another recipient's token is a 403; a bad one a 401 saying why.
- Otherwise `x-api-key`: one of the enabled keys of the API's usage plan (USAGE_PLAN_NAME), as API
  Gateway would check it. The plan's keys are read through the API Gateway API at most once a minute
  per execution environment (`KEYS_MAX_AGE_SECONDS`), so a flood of wrong keys costs no calls; a key
  disabled or removed from the plan is refused within that minute. In the AWS_IAM and COGNITO modes
  there is no plan: a backend reads inboxes with a token it asked for.
- Neither: a 401 naming `Authorization`.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from notifier.errors import ConfigurationError, ForbiddenError, UnauthorizedError
from notifier.inbox.tokens import InboxTokens, InvalidTokenError, bearer

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient

KEYS_MAX_AGE_SECONDS = 60.0


class UsagePlanKeys:
    """The values of a usage plan's enabled API keys, read at most once per `max_age` seconds."""

    def __init__(
        self,
        plan_name: str,
        client: Callable[[], APIGatewayClient],
        *,
        max_age: float = KEYS_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.plan_name = plan_name
        self._client = client
        self.max_age = max_age
        self._clock = clock
        self._plan_id: str | None = None
        self._keys: frozenset[str] = frozenset()
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def holds(self, key: str) -> bool:
        keys = self._current()
        # Compared in constant time, as every key is: no key's prefix is revealed by timing.
        return any(hmac.compare_digest(key.encode(), known.encode()) for known in keys)

    def _current(self) -> frozenset[str]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self.max_age:
                self._keys = self._read()
                self._read_at = now
            return self._keys

    def _read(self) -> frozenset[str]:
        client = self._client()
        if self._plan_id is None:
            pages = client.get_paginator("get_usage_plans").paginate()
            found = [
                p["id"] for page in pages for p in page.get("items", []) if p.get("name") == self.plan_name
            ]
            if not found:
                raise ConfigurationError(f"no usage plan named {self.plan_name!r} (USAGE_PLAN_NAME)")
            self._plan_id = found[0]
        listed = client.get_paginator("get_usage_plan_keys").paginate(usagePlanId=self._plan_id)
        ids = [key["id"] for page in listed for key in page.get("items", []) if key.get("type") == "API_KEY"]
        enabled = set()
        for key_id in ids:
            key = client.get_api_key(apiKey=key_id, includeValue=True)
            if key.get("enabled") and key.get("value"):
                enabled.add(key["value"])
        return frozenset(enabled)


class InboxAccess:
    """Checks a request to one recipient's inbox (see the module's doc)."""

    def __init__(self, tokens: Callable[[], InboxTokens], keys: UsagePlanKeys | None) -> None:
        self._tokens = tokens
        self.keys = keys

    def check(self, recipient_id: str, authorization: str | None, api_key: str | None) -> None:
        token = bearer(authorization)
        if token is not None:
            claims = self._tokens().verify(token)
            if claims.recipient_id != recipient_id:
                raise ForbiddenError("this token reaches its own recipient's inbox only")
            return
        if authorization:
            raise InvalidTokenError("not a Bearer token: send Authorization: Bearer <token>")
        if api_key and self.keys is not None:
            if not self.keys.holds(api_key):
                raise UnauthorizedError({"x-api-key": "not a key of this API"})
            return
        raise UnauthorizedError(
            {"Authorization": "missing: send Authorization: Bearer <inbox token>, or the API key"}
        )
