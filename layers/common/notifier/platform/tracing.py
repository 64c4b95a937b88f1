"""AWS X-Ray tracing of a handler, switched on by the environment, and free when it is off.

    from notifier.platform.tracing import AWS, VENDOR_HTTP_URLLIB, traced

    @traced(patch=(AWS, VENDOR_HTTP_URLLIB))
    @logger.inject_lambda_context
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event, context): ...

Tracing is on only when POWERTOOLS_TRACE_DISABLED is set to a false value ("false"): unset or empty,
it is off, so the local stack and the tests never trace. Off, `traced` hands the handler back as it
is and never imports the X-Ray SDK nor builds a Powertools Tracer. On, it builds a Tracer when the
module is imported (the cold start), patches only the libraries given, and wraps the handler in
`Tracer.capture_lambda_handler`, without the handler's answer or exception as metadata (either can
hold recipients' addresses, and traces bypass the logs' masking; the segment still shows the
fault). Powertools' Tracer still turns itself off outside Lambda (no LAMBDA_TASK_ROOT) or under
`sam local`.

What each function calls, and so what to patch:

- every function: AWS through boto3, `"botocore"`;
- e-mail: SendGrid's SDK (python_http_client) is urllib, so `"httplib"` (`VENDOR_HTTP_URLLIB`);
  botocore's own connections are then left out of it, as `"botocore"` already traces them;
- SMS and push: twilio, and firebase-admin with google-auth, are `requests` (`VENDOR_HTTP_REQUESTS`).

Threads: in Lambda, the X-Ray SDK gives every thread the invocation's segment, so the calls made from
the delivery and provider threads are traced too, as subsegments of the function's segment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from aws_lambda_powertools.shared.functions import strtobool

from notifier.errors import ConfigurationError

TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
AWS = "botocore"
VENDOR_HTTP_URLLIB = "httplib"
VENDOR_HTTP_REQUESTS = "requests"

_BOTOCORE_CONNECTIONS = ("botocore.awsrequest.AWSHTTPConnection", "botocore.awsrequest.AWSHTTPSConnection")

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether POWERTOOLS_TRACE_DISABLED turns tracing on: only a false value does."""
    value = (os.environ if environ is None else environ).get(TRACE_DISABLED_ENV, "").strip()
    if not value:
        return False
    try:
        return not strtobool(value)
    except ValueError:
        raise ConfigurationError(f"{TRACE_DISABLED_ENV} must be true or false, not {value!r}") from None


def traced(*, patch: Sequence[str] = (AWS,)) -> Callable[[Handler], Handler]:
    """Trace the Lambda handler it decorates when tracing is on (see the module's docstring), with
    the libraries in `patch` traced too; when off, the handler unchanged."""

    def decorate(handler: Handler) -> Handler:
        if not tracing_enabled():
            return handler
        tracer = _tracer(patch)
        wrapped = tracer.capture_lambda_handler(handler, capture_response=False, capture_error=False)
        return cast(Handler, wrapped)

    return decorate


def _tracer(patch: Sequence[str]) -> Any:
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is on

    tracer = Tracer(auto_patch=bool(patch), patch_modules=list(patch) or None)
    if VENDOR_HTTP_URLLIB in patch and not tracer.disabled:
        from aws_xray_sdk.ext.httplib import (  # type: ignore[import-untyped]  # noqa: PLC0415
            add_ignored,
        )

        for connection in _BOTOCORE_CONNECTIONS:
            add_ignored(subclass=connection)
    return tracer
