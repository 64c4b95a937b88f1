"""What each function's cold start loads and leaves behind, in a fresh interpreter set up as
`bench.cold_start` sets it up for Lambda (the function's code, the layer, the distributions it ships,
the template's environment; AWS and the vendors answered in-process): the handler module imported,
then one sample event handled, through the real provider and vendor SDK."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from bench import cold_start

FACTS = """
import gc
print(json.dumps({
    "answer": answer,
    "calls": dict(stubs.calls),
    "modules": sorted(sys.modules),
    "gc_enabled": gc.isenabled(),
    "frozen_after_init": frozen_after_init,
    "frozen": gc.get_freeze_count(),
}))
"""
INIT_DONE = "t1 = time.perf_counter()\n"
"""The line after the handler module's import, in bench.cold_start's child."""
AFTER_INIT = INIT_DONE + "frozen_after_init = __import__('gc').get_freeze_count()\n"

UNUSED_PARSER_MODELS = {
    f"aws_lambda_powertools.utilities.parser.models.{source}" for source in ("kafka", "dynamodb", "kinesis")
}


@pytest.fixture(scope="module")
def cold_starts() -> dict[str, dict[str, Any]]:
    """For each function, after its first invocation (checked to have gone through its vendor): what
    it answered, the modules loaded and the collector's state."""
    stack = cold_start._stack()
    answers = cold_start.answers()
    reports = {}
    with tempfile.TemporaryDirectory() as sites:
        for function in cold_start.FUNCTIONS:
            child, env = cold_start.prepare(function, stack, answers, Path(sites))
            assert INIT_DONE in child
            child = child.replace(INIT_DONE, AFTER_INIT)
            facts, _ = cold_start.run_child(child + FACTS, env)
            cold_start.check(function, facts)
            reports[function] = facts
    return reports


@pytest.mark.parametrize("function", ["email", "sms", "push"])
def test_a_consumer_builds_no_parser_models_for_other_event_sources(cold_starts, function):
    """Powertools' batch utility builds them (as type hints only) when pydantic is loaded before it;
    notifier.delivery.consumer, imported first by the consumers' handler, loads it before pydantic."""
    facts = cold_starts[function]
    assert "aws_lambda_powertools.utilities.batch" in facts["modules"]
    assert "aws_lambda_powertools.utilities.parser.models.sqs" in facts["modules"]  # the records' model
    assert UNUSED_PARSER_MODELS.isdisjoint(facts["modules"])


@pytest.mark.parametrize("function", list(cold_start.FUNCTIONS))
def test_garbage_collection_resumes_after_the_first_invocation_with_what_it_built_frozen(
    cold_starts, function
):
    facts = cold_starts[function]
    assert facts["gc_enabled"]
    assert facts["frozen_after_init"] > 10_000  # init's modules, models and clients
    assert facts["frozen"] > facts["frozen_after_init"]  # and what the first invocation built


@pytest.mark.parametrize("function", list(cold_start.FUNCTIONS))
def test_no_function_loads_boto3(cold_starts, function):
    """Every AWS client is botocore's own (notifier.platform.clients), and credentials are read with them
    (notifier.platform.credentials): boto3 and s3transfer would add 12 to 30 ms to a cold start."""
    modules = cold_starts[function]["modules"]
    assert "botocore.client" in modules
    assert {"boto3", "s3transfer"}.isdisjoint(modules)


VENDOR_SDKS = {
    "publish": None,
    "email": "sendgrid",
    "sms": "twilio",
    "push": "firebase_admin",
    "inapp": None,
    "socket": None,
}
POWERTOOLS_UTILITY = {
    "publish": "aws_lambda_powertools.event_handler.api_gateway",
    **dict.fromkeys(("email", "sms", "push", "inapp"), "aws_lambda_powertools.utilities.batch.base"),
    "socket": "aws_lambda_powertools.logging.logger",  # no utility: its own handler, Powertools' logger
}


@pytest.mark.parametrize("function", list(cold_start.FUNCTIONS))
def test_the_naive_reference_loads_the_functions_libraries_and_none_of_its_code(function):
    """`cold_naive_ms`: boto3 with the function's clients, Powertools with its utility, pydantic with a
    model built, and the function's vendor SDK, in a fresh interpreter with the function's packages."""
    with tempfile.TemporaryDirectory() as sites:
        cold_start.shipped_site(function, Path(sites))
        child, env = cold_start.prepare_naive(function, Path(sites))
        facts, _ = cold_start.run_child(child + 'print(json.dumps({"modules": sorted(sys.modules)}))\n', env)
    modules = set(facts["modules"])
    expected = {"boto3", "botocore.client", "pydantic.main", "aws_lambda_powertools.logging.logger"}
    assert expected | {POWERTOOLS_UTILITY[function]} <= modules
    for vendor_function, sdk in VENDOR_SDKS.items():
        if sdk is not None:
            assert (sdk in modules) == (vendor_function == function), sdk
    assert not {m for m in modules if m.split(".")[0] in ("notifier", "app")}
