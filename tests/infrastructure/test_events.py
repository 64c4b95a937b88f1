"""Every sample in events/ is a valid event for a function of the template, and each is used."""

from __future__ import annotations

import json
import re

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel, SqsModel

from devstack.lambda_events import EVENTS_DIR
from devstack.template import REPO_ROOT, Stack, load_template

SAMPLES = sorted(p.name for p in EVENTS_DIR.glob("*.json"))
STACK = Stack(load_template())
API_ROUTES = {
    (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
    for fn in STACK.resources_of_type("AWS::Serverless::Function").values()
    for e in fn["Properties"].get("Events", {}).values()
    if e["Type"] == "Api"
}


@pytest.mark.parametrize("name", [s for s in SAMPLES if s.startswith("api_")])
def test_each_api_sample_is_a_rest_proxy_event_for_a_template_route(name):
    event = APIGatewayProxyEventModel.model_validate_json((EVENTS_DIR / name).read_text())

    assert (event.httpMethod, event.resource) in API_ROUTES
    if event.resource.startswith("/webhooks/"):  # a vendor's: signed, never with our API key
        assert event.requestContext.identity.apiKey is None
        assert not {"x-api-key"} & {name.lower() for name in event.headers}
    else:
        assert event.requestContext.identity.apiKey


@pytest.mark.parametrize("name", [s for s in SAMPLES if s.startswith("sqs_")])
def test_each_sqs_sample_is_a_batch_from_a_queue_of_its_channel(name):
    channel = name.split("_")[1]
    batch = SqsModel.model_validate_json((EVENTS_DIR / name).read_text())

    queues = {record.eventSourceARN.rsplit(":", 1)[1] for record in batch.Records}
    assert all(q.startswith(f"notifier-{channel.capitalize()}") for q in queues)
    assert len(batch.Records) >= 2


def test_every_sample_is_used_by_a_behaviour_test():
    sources = "\n".join(
        p.read_text() for p in (REPO_ROOT / "tests").rglob("test_*.py") if p.name != "test_events.py"
    )
    patterns = {
        re.sub(r"\{[^}]+\}", "{}", literal)
        for literal in re.findall(r"[\"']((?:api|sqs)_[^\"']+\.json)[\"']", sources)
    }
    used = {
        s for s in SAMPLES if any(re.fullmatch(re.escape(p).replace(r"\{\}", r"[a-z]+"), s) for p in patterns)
    }
    assert sorted(set(SAMPLES) - used) == []


def test_samples_are_pretty_printed_json():
    for name in SAMPLES:
        text = (EVENTS_DIR / name).read_text()
        assert json.loads(text)
        assert text.endswith("\n")
