"""Configuration, read from the environment once per execution environment.

Nothing else in the code reads `os.environ`. A missing or malformed variable fails the cold start
with the variable's name, rather than the first request with a KeyError.
"""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigurationError(RuntimeError):
    """The environment does not describe a working function."""


class Settings(BaseModel):
    """What every function needs. Field aliases are the environment variable names."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status_table: str = Field(alias="STATUS_TABLE", min_length=1)
    status_ttl_days: int = Field(alias="STATUS_TTL_DAYS", default=30, ge=1, le=3650)
    topic_arn: str | None = Field(alias="TOPIC_ARN", default=None)
    recipients_table: str | None = Field(alias="RECIPIENTS_TABLE", default=None)
    sandbox_outbox_path: str | None = Field(
        alias="SANDBOX_OUTBOX_PATH",
        default=None,
        description="Also append sandbox deliveries to this JSON-lines file.",
    )

    def require(self, name: str) -> str:
        """The value of an optional setting that this function cannot work without."""
        value = getattr(self, name)
        if not value:
            alias = type(self).model_fields[name].alias
            raise ConfigurationError(f"environment variable {alias} is required by this function")
        return str(value)


def settings_from(environ: dict[str, str]) -> Settings:
    try:
        return Settings.model_validate(environ)
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"invalid configuration: {problems}") from None


@cache
def get_settings() -> Settings:
    return settings_from(dict(os.environ))
