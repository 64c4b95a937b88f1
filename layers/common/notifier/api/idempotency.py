"""Idempotency of the API's POSTs: the optional `Idempotency-Key` request header.

A POST that carries the header runs at most once per (caller, route, key) within the window
(IDEMPOTENCY_WINDOW_HOURS), on Powertools' idempotency utility and its DynamoDB table:

- the first request runs and its answer (status code and body) is remembered;
- a retry with the same key and the same request body gets that answer again, marked replayed, and
  publishes nothing;
- the same key with another body is refused (`IdempotencyKeyReusedError`): it is a new request, not
  a retry;
- the same key while the first request is still running is refused (`IdempotencyKeyInUseError`).
  The in-flight record expires with the first request's invocation (its Lambda context is
  registered), so a request that crashed frees its key when its invocation would have timed out;
- a request that raised (SNS down: nothing was published) is forgotten, so its retry runs.

"Same body" means the same request once validated: formatting, key order and defaults do not count.
A request without the header runs as if this module did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from notifier.errors import IdempotencyKeyInUseError, IdempotencyKeyReusedError, IdempotencyUnavailableError
from notifier.platform.logs import logger

# Powertools' idempotency utility is imported by the first request with a key (`IdempotentRequests`
# is built then, see `runtime.idempotency`): a request without one never needs it.
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY_PREFIX = "notifier-api"  # records are "notifier-api#<sha256 of the scope>"
_ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class IdempotencyScope:
    """Whose key it is and where it was used: one key means one request per caller and route."""

    caller: str
    route: str
    key: str


def scope_of(event: APIGatewayProxyEvent, key: str | None) -> IdempotencyScope | None:
    """The scope of the request's `Idempotency-Key`, or None when it has none."""
    if key is None:
        return None
    caller = event.request_context.identity.api_key_id or _ANONYMOUS
    return IdempotencyScope(caller=caller, route=f"{event.http_method} {event.resource}", key=key)


class Answer(BaseModel):
    """An HTTP answer as the idempotency table keeps it, so that a replay is the first answer."""

    status_code: int
    body: str = Field(description="The JSON body, exactly as first sent.")
    replayed: bool = Field(default=False, exclude=True)

    @classmethod
    def of(cls, status_code: int, body: BaseModel) -> Answer:
        return cls(status_code=status_code, body=body.model_dump_json())


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools calls this only for an answer read back from the table."""
    if isinstance(response, Answer):
        return response.model_copy(update={"replayed": True})
    return response


@cache
def _serializer() -> PydanticSerializer:
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import (  # noqa: PLC0415
        PydanticSerializer,
    )

    return PydanticSerializer(Answer)


class IdempotentRequests:
    def __init__(self, persistence: BasePersistenceLayer, window: timedelta) -> None:
        self.persistence = persistence
        self.window = window

    def run(
        self,
        scope: IdempotencyScope,
        request: BaseModel,
        action: Callable[[], Answer],
        context: LambdaContext,
    ) -> Answer:
        """`action()`'s answer, or the answer it gave the first time this scope was used.

        Raises what `action` raises (and then forgets the scope), IdempotencyKeyReusedError,
        IdempotencyKeyInUseError or IdempotencyUnavailableError.
        """
        from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - see the imports
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        # A config per request: the persistence layer is shared by the requests of an execution
        # environment, and each request's in-flight record must expire with its own invocation.
        config = IdempotencyConfig(
            event_key_jmespath="scope",
            payload_validation_jmespath="request",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=int(self.window.total_seconds()),
            hash_function="sha256",
            response_hook=_replayed,
        )
        config.register_lambda_context(context)
        answered: list[Answer] = []

        def perform(data: dict[str, Any]) -> Answer:
            answer = action()
            answered.append(answer)
            return answer

        once = idempotent_function(
            perform,
            data_keyword_argument="data",
            persistence_store=self.persistence,
            config=config,
            output_serializer=_serializer(),
            key_prefix=_KEY_PREFIX,
        )
        where = {"route": scope.route, "caller": scope.caller}
        try:
            answer: Answer = once(data={"scope": asdict(scope), "request": request.model_dump(mode="json")})
        except IdempotencyValidationError as exc:
            logger.info("Idempotency-Key reused with another request", extra=where)
            raise IdempotencyKeyReusedError(
                f"this {IDEMPOTENCY_KEY_HEADER} was already used with a different request body; "
                "send a new key for a new request"
            ) from exc
        except IdempotencyAlreadyInProgressError as exc:
            logger.info("Idempotency-Key in use by a request still running", extra=where)
            raise IdempotencyKeyInUseError(
                f"a request with this {IDEMPOTENCY_KEY_HEADER} is still being processed; "
                "retry to get its answer"
            ) from exc
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
            if answered:
                # Published, but the answer could not be stored. Answering an error would make the
                # client publish again; the key stays in flight until this invocation's time is up.
                logger.exception("could not remember the answer of an idempotent request", extra=where)
                return answered[0]
            logger.exception("idempotency table unavailable", extra=where)
            raise IdempotencyUnavailableError(
                f"the {IDEMPOTENCY_KEY_HEADER} could not be checked; nothing was published, try again"
            ) from exc
        if answer.replayed:
            logger.info("idempotent replay", extra=where)
        return answer
