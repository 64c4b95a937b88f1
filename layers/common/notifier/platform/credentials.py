"""Vendor credentials: a JSON document in Secrets Manager or SSM Parameter Store, read with the
clients of `notifier.platform.clients` and cached for `CREDENTIALS_CACHE_SECONDS`, so a rotated secret is
picked up within that time without a cold start.

The document for each vendor (README, "Configure a vendor"):

- SendGrid: `{"api_key": "SG...."}`, and `"webhook_verification_key"` (the Signed Event Webhook's key)
  for delivery receipts
- Twilio: `{"account_sid": "AC...", "auth_token": "..."}` or, better, with an API key:
  `{"account_sid": "AC...", "api_key_sid": "SK...", "api_key_secret": "..."}`; Twilio signs its status
  callbacks with the account's auth token, so receipts need `auth_token` in the document too
- FCM: the Firebase service account key file as downloaded (`{"type": "service_account", ...}`).

Not Powertools parameters, which this read went through before: its module imports boto3 (and
s3transfer) to build a default session, even when given a client, as here. No function loads boto3
otherwise (see notifier.platform.clients), and that import was 12 to 24 ms of each consumer's cold start
(measured with `bench.cold_start`), for a cache of one document per vendor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from notifier.errors import ConfigurationError
from notifier.platform.clients import secrets_client, ssm_client

M = TypeVar("M", bound=BaseModel)


class CredentialSource:
    """The credentials documents of one store, each cached for `max_age_seconds` after it is read (0:
    read every time)."""

    def __init__(
        self,
        store: Literal["secretsmanager", "ssm"],
        max_age_seconds: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._cached: dict[str, tuple[float, str | bytes]] = {}  # name -> (read at, what is stored)
        self._documents: dict[str, tuple[str | bytes, dict[str, Any]]] = {}  # name -> (that, parsed)

    def get(self, name: str) -> dict[str, Any]:
        """The JSON document stored under `name`; a ConfigurationError naming it when there is none."""
        text = self.text(name)
        parsed = self._documents.get(name)
        if parsed is not None and parsed[0] is text:  # read once, parsed once: consumers ask every batch
            return parsed[1]
        try:
            document = json.loads(text)
        except ValueError:  # UnicodeDecodeError included
            raise ConfigurationError(
                f"credentials {name!r} in {self.store} are not a JSON document"
            ) from None
        if not isinstance(document, dict):
            raise ConfigurationError(f"credentials {name!r} in {self.store} are not a JSON object")
        self._documents[name] = (text, document)
        return document

    def text(self, name: str) -> str | bytes:
        """What is stored under `name`, as it is stored."""
        cached = self._cached.get(name)
        now = self._clock()
        if cached is not None and now - cached[0] < self.max_age_seconds:
            return cached[1]
        text = self._read(name)
        self._cached[name] = (now, text)
        return text

    def _read(self, name: str) -> str | bytes:
        try:
            if self.store == "ssm":
                parameter = ssm_client().get_parameter(Name=name, WithDecryption=True)["Parameter"]
                return parameter["Value"]
            secret = secrets_client().get_secret_value(SecretId=name)
            return secret["SecretString"] if "SecretString" in secret else secret["SecretBinary"]
        except (ClientError, BotoCoreError) as exc:
            raise ConfigurationError(f"cannot read credentials {name!r} from {self.store}: {exc}") from None


class SendGridCredentials(BaseModel):
    api_key: str = Field(min_length=1)
    webhook_verification_key: str | None = Field(
        default=None,
        min_length=1,
        description="The Signed Event Webhook's verification key, as SendGrid shows it (base64 of the "
        "public key's DER), or the same key in PEM.",
    )


class TwilioCredentials(BaseModel):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str | None = Field(default=None, min_length=1)
    api_key_sid: str | None = Field(default=None, pattern=r"^SK[0-9a-fA-F]{32}$")
    api_key_secret: str | None = Field(default=None, min_length=1)
    webhook_shared_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Webhook SharedKeys by their id, for callbacks signed with one "
        "(X-Twilio-Webhooks-Signature-Settings: key=<id>,...) instead of the auth token.",
    )

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> TwilioCredentials:
        if not (self.auth_token or (self.api_key_sid and self.api_key_secret)):
            raise ValueError("needs auth_token, or api_key_sid and api_key_secret")
        return self


class FirebaseServiceAccount(BaseModel):
    """The fields of a service account key that FCM needs; the rest of the file is kept as is."""

    model_config = ConfigDict(extra="allow")

    type: Literal["service_account"]
    project_id: str = Field(min_length=1)
    private_key: str = Field(min_length=1)
    client_email: str = Field(min_length=1)
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - Google's endpoint, not a secret


def parse_credentials(model: type[M], name: str, document: dict[str, Any]) -> M:
    """`document` as `model`; a ConfigurationError naming the fields (never their values) if not."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(part) for part in e["loc"]) + f" ({e['msg']})" if e["loc"] else str(e["msg"])
            for e in exc.errors(include_input=False)
        )
        raise ConfigurationError(f"credentials {name!r} are not usable: {fields}") from None
