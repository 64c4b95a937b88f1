"""One provisioned stack per test process, handed to each functional test as if just created.

Provisioning template.yaml into moto (about 45 boto3 calls, a KMS key, a dozen queues) costs 1-3 s,
and reading the template half a second more; done for every test it was most of the functional
suite's time. Here the template is read once, the resources are created once, and between tests only
their state is reset.

How a test gets a fresh stack:

- Each test runs in its own `mock_aws()`, entered as before (it resets moto, so whatever a previous
  test or another file's own mock left in any service is gone: secrets, SSM parameters, ...).
- The stack's own backends (the SQS, SNS, DynamoDB, KMS, Secrets Manager and EventBridge Scheduler
  backends of the stack's account and region) are then put back into moto, as they were when the
  last test using them ended. Between tests they are kept out of moto, so a test without the stack
  (or another file's `mock_aws()`, or the emulator test's moto server) can neither see them nor
  reset them.
- Their resources are checked against what was provisioned: the same queues, topics, subscriptions,
  tables, keys, schedule groups and secrets (the same objects, with the same configuration and secret
  values). A test that deleted, added or reconfigured one (some delete the topic or a table on
  purpose) makes the next test provision the whole stack again, from the template already read.
- botocore's service descriptions are read once per test process too (tests/conftest.py's
  `botocore_data_read_once`). Sessions, credentials and clients are still new in every test.
- Their data is emptied: every queue's messages (visible, in flight and delayed, as PurgeQueue does,
  without PurgeQueue's once-a-minute limit), every table's items, what the topics and SNS recorded as
  sent, every schedule, and every secret the stack did not create (a test's vendor credentials).

The stack is made with the Parameters of `FUNCTIONAL_PARAMETERS` under any a test gives: PublicApiUrl
on loopback, as the local stack gives its own URL, since the default (the execute-api URL) names a host
the functional tests may not reach; and the sandbox's receipts never due within a test, since the tests
post the receipts they mean through the webhooks function (test_receipts.py), and one of the sandbox's
arriving in the middle would race them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from moto import mock_aws
from moto.core.base_backend import BackendDict
from moto.dynamodb.models import dynamodb_backends
from moto.kms.models import kms_backends
from moto.scheduler.models import scheduler_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from devstack.provision import Deployment, provision
from devstack.template import Stack, load_template

# The services whose resources provision() creates from the template, and so the only state kept
# from one test to the next.
_BACKENDS: dict[str, BackendDict[Any]] = {
    "sqs": sqs_backends,
    "sns": sns_backends,
    "dynamodb": dynamodb_backends,
    "kms": kms_backends,
    "secretsmanager": secretsmanager_backends,
    # The schedule group (SendSchedules): without it, CreateSchedule into it crashes moto (a 500).
    "scheduler": scheduler_backends,
}

FUNCTIONAL_PARAMETERS = {
    "PublicApiUrl": "http://127.0.0.1:9",  # the discard port: nothing answers HTTP there
    "SandboxReceiptDelayMs": "600000",
}
"""Parameters of every functional test's stack, under those a test gives (see the module's doc)."""

_template: dict[str, Any] | None = None


def template() -> dict[str, Any]:
    """template.yaml, read once per process; callers get their own copy (provision() and the tests
    may change what they are given)."""
    global _template  # noqa: PLW0603 - a per-process cache
    if _template is None:
        _template = load_template()
    return copy.deepcopy(_template)


def _fingerprint(backends: Mapping[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    """Which resources the stack's backends hold, and how each is configured (not its data); of the
    secrets, those named `secrets` (the stack's), with their values."""
    sqs, sns, dynamodb, kms = (backends[name] for name in ("sqs", "sns", "dynamodb", "kms"))
    return {
        "secrets": {
            name: (
                id(secret),
                secret.secret_string,
                secret.default_version_id,
                secret.kms_key_id,
                secret.deleted_date,
                secret.policy,
                repr(secret.tags),
            )
            for name, secret in dict.items(backends["secretsmanager"].secrets)
            if name in secrets
        },
        "queues": {
            name: (id(q), q.last_modified_timestamp, repr(q.policy), repr(q.redrive_policy), repr(q.tags))
            for name, q in sqs.queues.items()
        },
        "topics": {
            arn: (
                id(t),
                t.display_name,
                t.delivery_policy,
                t.kms_master_key_id,
                repr(t._policy_json),
                repr(t._tags),
            )
            for arn, t in sns.topics.items()
        },
        "subscriptions": {
            arn: (id(s), s.endpoint, s.protocol, repr(s.attributes), repr(s._filter_policy))
            for arn, s in sns.subscriptions.items()
        },
        "sns": (repr(sns.applications), repr(sns.platform_endpoints), repr(sns.sms_attributes)),
        "tables": {
            name: (
                id(t),
                repr(t.ttl),
                repr(t.schema),
                repr(t.attr),
                repr([i.describe() for i in t.global_indexes]),
                repr([i.describe() for i in t.indexes]),
                repr(t.stream_specification),
                repr(t.tags),
            )
            for name, t in dynamodb.tables.items()
        },
        "dynamodb": (len(dynamodb.backups), len(dynamodb.resource_policies)),
        "schedule_groups": {name: id(g) for name, g in backends["scheduler"].schedule_groups.items()},
        "keys": {
            key_id: (
                id(k),
                k.key_state,
                k.enabled,
                k.policy,
                k.description,
                k.key_rotation_status,
                sorted(k.aliases),
                sorted(k.grants),
            )
            for key_id, k in kms.keys.items()
        },
    }


def _empty(backends: Mapping[str, Any], secrets: frozenset[str]) -> None:
    """Every message, item and record of what was sent gone, and every secret but `secrets` (the
    stack's); the resources themselves left as they are."""
    stored = backends["secretsmanager"].secrets
    for name in [n for n in dict.keys(stored) if n not in secrets]:
        dict.__delitem__(stored, name)
    for queue in backends["sqs"].queues.values():
        with queue._messages_lock:
            queue._messages = []
            queue._pending_messages = set()
            queue.deleted_messages = set()
            queue.last_purged_at = None
    sns = backends["sns"]
    for topic in sns.topics.values():
        topic.sent_notifications.clear()
    sns.sms_messages.clear()
    sns.sms_message_objects.clear()
    for table in backends["dynamodb"].tables.values():
        table.items.clear()
    scheduler = backends["scheduler"]
    for group in scheduler.schedule_groups.values():
        group.schedules.clear()
    scheduler.schedules.clear()


class SharedStack:
    """One parameter set's stack: provisioned in the first test that asks for it, reset in the rest."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.overrides = {**FUNCTIONAL_PARAMETERS, **(overrides or {})}
        self.deployment: Deployment | None = None
        # The stack's backends while no test runs, with the fingerprint they had when provisioned.
        self._kept: dict[str, Any] | None = None
        self._fingerprint: dict[str, Any] | None = None
        self._secrets: frozenset[str] = frozenset()  # the names of the secrets the stack created
        self.provisioned = 0  # how many times provision() ran (tests of this module read it)

    @contextmanager
    def active(self) -> Iterator[Deployment]:
        """moto mocked, holding the stack's resources and nothing else: no message, item, secret or
        parameter any earlier test left."""
        with mock_aws():
            deployment = self._install()
            try:
                yield deployment
            finally:
                self._keep(deployment)

    def _install(self) -> Deployment:
        region, account = self._where()
        if self.deployment is not None and self._kept is not None:
            for name, backends in _BACKENDS.items():
                backends[account][region] = self._kept[name]
            self._kept = None
            if _fingerprint(self._current(account, region), self._secrets) == self._fingerprint:
                _empty(self._current(account, region), self._secrets)
                return self.deployment
            # A test changed the stack itself: start again from nothing.
            for backends in _BACKENDS.values():
                backends[account][region].reset()
        self.deployment = provision(Stack(template(), overrides=self.overrides))
        self.provisioned += 1
        self._secrets = frozenset(dict.keys(self._current(account, region)["secretsmanager"].secrets))
        self._fingerprint = _fingerprint(self._current(account, region), self._secrets)
        return self.deployment

    def _keep(self, deployment: Deployment) -> None:
        """Takes the stack's backends out of moto (before mock_aws() ends and resets moto)."""
        region, account = deployment.stack.region, deployment.stack.account_id
        kept = {}
        for name, backends in _BACKENDS.items():
            by_region = backends[account]
            # Gone if the test reset moto itself (moto's `in` is true of every region it knows).
            if not dict.__contains__(by_region, region):
                self._kept = None
                return
            kept[name] = by_region.pop(region)
        self._kept = kept

    def _where(self) -> tuple[str, str]:
        if self.deployment is not None:
            return self.deployment.stack.region, self.deployment.stack.account_id
        stack = Stack({"Parameters": {}, "Resources": {}})
        return stack.region, stack.account_id

    @staticmethod
    def _current(account: str, region: str) -> dict[str, Any]:
        return {name: backends[account][region] for name, backends in _BACKENDS.items()}


_stacks: dict[tuple[tuple[str, str], ...], SharedStack] = {}


def shared_stack(overrides: Mapping[str, str] | None = None) -> SharedStack:
    """The process's stack for these parameter overrides, over FUNCTIONAL_PARAMETERS."""
    key = tuple(sorted((overrides or {}).items()))
    if key not in _stacks:
        _stacks[key] = SharedStack(overrides)
    return _stacks[key]
