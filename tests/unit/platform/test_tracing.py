"""X-Ray tracing of the handlers: off unless POWERTOOLS_TRACE_DISABLED is false, and free when off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notifier.errors import ConfigurationError
from notifier.platform import tracing
from notifier.platform.tracing import TRACE_DISABLED_ENV, traced, tracing_enabled

ROOT = Path(__file__).resolve().parents[3]
CONSUMERS = ["functions.email.app", "functions.sms.app", "functions.push.app"]


@pytest.mark.parametrize(
    ("value", "enabled"),
    [
        (None, False),
        ("", False),
        ("true", False),
        ("TRUE", False),
        ("1", False),
        ("false", True),
        ("0", True),
    ],
)
def test_only_a_false_value_turns_tracing_on(value, enabled):
    environ = {} if value is None else {TRACE_DISABLED_ENV: value}
    assert tracing_enabled(environ) is enabled


def test_a_value_that_is_neither_true_nor_false_stops_the_function_naming_the_variable():
    with pytest.raises(ConfigurationError, match=TRACE_DISABLED_ENV):
        tracing_enabled({TRACE_DISABLED_ENV: "sometimes"})


def test_off_the_handler_is_handed_back_unchanged(monkeypatch):
    monkeypatch.delenv(TRACE_DISABLED_ENV, raising=False)

    def handler(event: dict, context: object) -> dict:
        return event

    assert traced()(handler) is handler


def run(code: str, **environment: str) -> dict:
    """`code` in a fresh interpreter, as Lambda would import a handler; what it prints, as JSON."""
    env = {k: v for k, v in os.environ.items() if k not in (TRACE_DISABLED_ENV, "LAMBDA_TASK_ROOT")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)]), **environment)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


IMPORT_CONSUMERS = f"""
import json, sys, importlib
handlers = {{name: importlib.import_module(name).lambda_handler for name in {CONSUMERS!r}}}
print(json.dumps({{
    "xray": sorted(m for m in sys.modules if m.startswith("aws_xray_sdk")),
    "outermost": {{name: h.__code__.co_filename for name, h in handlers.items()}},
}}))
"""


@pytest.mark.parametrize("value", [None, "true"])
def test_off_importing_a_consumer_never_imports_the_xray_sdk(value):
    environment = {} if value is None else {TRACE_DISABLED_ENV: value}

    imported = run(IMPORT_CONSUMERS, **environment)

    assert imported["xray"] == []
    assert not any(path.endswith("tracer.py") for path in imported["outermost"].values())


PATCHED = """
import json, importlib
handler = importlib.import_module("{module}").lambda_handler
from aws_xray_sdk.core.patcher import _PATCHED_MODULES
print(json.dumps({{"patched": sorted(_PATCHED_MODULES), "outermost": handler.__code__.co_filename}}))
"""


@pytest.mark.parametrize(
    ("module", "patched"),
    [
        ("functions.email.app", ["botocore", "httplib"]),
        ("functions.sms.app", ["botocore", "requests"]),
        ("functions.push.app", ["botocore", "requests"]),
    ],
)
def test_on_in_lambda_a_consumer_is_traced_with_only_what_it_calls_patched(module, patched, tmp_path):
    traced_import = run(
        PATCHED.format(module=module), **{TRACE_DISABLED_ENV: "false", "LAMBDA_TASK_ROOT": str(tmp_path)}
    )

    assert traced_import["patched"] == patched
    assert traced_import["outermost"].endswith(os.path.join("tracing", "tracer.py"))


CALL = """
import json
from notifier.platform.tracing import traced

@traced()
def handler(event, context):
    return {"batchItemFailures": [], "echo": event}

class Context:
    function_name = "email"
    aws_request_id = "r-1"

print(json.dumps(handler({"Records": [1]}, Context())))
"""


@pytest.mark.parametrize(
    ("in_lambda", "trace_header"),
    [
        (True, None),
        (True, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
        (False, None),
    ],
    ids=["in-lambda-no-trace-context", "in-lambda-not-sampled", "outside-lambda-the-tracer-turns-itself-off"],
)
def test_on_the_traced_handler_answers_as_the_handler_does(in_lambda, trace_header, tmp_path):
    environment = {TRACE_DISABLED_ENV: "false"}
    if in_lambda:
        environment["LAMBDA_TASK_ROOT"] = str(tmp_path)
    if trace_header:
        environment["_X_AMZN_TRACE_ID"] = trace_header

    assert run(CALL, **environment) == {"batchItemFailures": [], "echo": {"Records": [1]}}


def test_on_neither_the_answer_nor_the_exception_goes_into_the_trace(monkeypatch):
    """Both can hold a recipient's address, and traces do not pass through the logs' masking."""
    seen: dict = {}

    class RecordingTracer:
        def capture_lambda_handler(self, handler, **options):
            seen.update(options)
            return handler

    monkeypatch.setenv(TRACE_DISABLED_ENV, "false")
    monkeypatch.setattr(tracing, "_tracer", lambda patch: RecordingTracer())

    traced()(lambda event, context: event)

    assert seen == {"capture_response": False, "capture_error": False}
