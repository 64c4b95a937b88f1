"""Settings every test shares: no real AWS credentials, and a fixed region; and, under xdist, the order
in which the workers take the test files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from unittest import mock

import botocore.loaders
import botocore.session
import pytest

from devstack.lambda_events import LambdaContext

# The caller's own AWS settings, for the deployed-stack tests alone (tests/deployed), which use them
# explicitly; everything else runs with the fakes below.
CALLER_AWS_ENVIRONMENT = {name: value for name, value in os.environ.items() if name.startswith("AWS_")}

# Set before any boto3 client exists, so nothing can reach a real account.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_METRICS_NAMESPACE="notifier-tests",
    POWERTOOLS_SERVICE_NAME="notifier",
    # What a function needs to start (each validates its settings when its module is imported); the
    # functional tests put the deployed template's own values over these.
    STATUS_TABLE="notifier-tests-status",
    RECIPIENTS_TABLE="notifier-tests-recipients",
    SUPPRESSIONS_TABLE="notifier-tests-suppressions",
    TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:notifier-tests",
    IDEMPOTENCY_TABLE="notifier-tests-idempotency",
    CONNECTIONS_TABLE="notifier-tests-connections",
    PENDING_TABLE="notifier-tests-pending",
    DIGESTS_TABLE="notifier-tests-digests",
    DUE_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/notifier-tests-due",
    DUE_QUEUE_ARN="arn:aws:sqs:us-east-1:123456789012:notifier-tests-due",
    SCHEDULE_GROUP="notifier-tests-sends",
    SCHEDULER_ROLE_ARN="arn:aws:iam::123456789012:role/notifier-tests-scheduler",
    SCHEDULE_DLQ_ARN="arn:aws:sqs:us-east-1:123456789012:notifier-tests-schedule-dlq",
)
for _variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_variable, None)


@pytest.fixture
def lambda_context():
    return LambdaContext()


@cache
def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    """botocore.loaders.create_loader, once per data path: a loader only reads (and caches) files."""
    return botocore.loaders.create_loader(search_path_string)


@pytest.fixture(autouse=True, scope="session")
def botocore_data_read_once() -> Iterator[None]:
    """botocore's service descriptions and endpoints (1.2 MB of JSON) read once per data path and test
    process: every botocore session a test makes (boto3's default one, which mock_aws() replaces, and
    the notifier's own, which runtime.reset() drops) otherwise parsed them again, about 25 ms a client
    (351 files and 6 s of the unit tests' CPU). Sessions, credentials and clients are still new."""
    with mock.patch.object(botocore.session, "create_loader", _shared_loader):
        yield


# The test folders, slowest first. Under xdist (make test: --dist loadfile --no-loadscope-reorder) each
# worker takes whole files in collection order, so the end-to-end files (each tens of seconds of local
# stacks and emulators) start at once and the short unit files fill the workers' ends. xdist's own
# order, most tests first, started them last: the longest ran alone for the last 40 s of a run while
# the other workers idled.
SLOWEST_FIRST = ("e2e", "functional", "infrastructure", "deployed", "unit")
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker: the order pytest collected
        return
    ranks = {folder: rank for rank, folder in enumerate(SLOWEST_FIRST)}

    def rank(item: pytest.Item) -> int:
        folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        return ranks.get(folder, len(ranks))

    items.sort(key=rank)  # stable: each folder keeps pytest's order
