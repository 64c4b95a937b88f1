"""Each function's cold start: a fresh interpreter importing its handler and handling one event.

Every figure is measured inside a fresh child interpreter (`python -I -S`), with
`time.perf_counter()` around the statements, and is the median of `--runs` children. The children
run in rounds, each round every target once in turn, so that the floor and the functions share the
machine's ups and downs; one unmeasured round first, so that each child starts with Python's
bytecode cache, as a package built by `make build` does (see build/slim_build.py):

- `floor`: `import boto3; boto3.client("sns", region_name="us-east-1")`, with the runtime's boto3
  alone on the path: the least any of these functions can do;
- `publish`, `email`, `sms`, `push`, `inapp`, `socket`: what Lambda's init and first invocation
  do. `sys.path` is the function's code directory, then the layer's folder, then the function's
  packages (Lambda's /var/task and /opt/python); the environment is the function's, as template.yaml gives it
  (Globals and the function's own variables, resolved with devstack.template; resource names are
  dummies), plus Lambda's own variables and fake credentials. The child imports `app` (the handler
  module), then calls `lambda_handler` with one sample event from events/ (`EVENT_FILES`:
  api_publish_event.json; each consumer's sqs_<channel>_critical.json, two records;
  websocket_authorizer.json for the socket function) and a Lambda context. Each vendor's consumer is
  configured with its vendor (a credentials secret name and a sender), so it goes through its real
  provider and vendor SDK (SendGrid, Twilio, firebase-admin with a generated service-account key).
  The in-app consumer has no vendor: it stores each item (a conditional PutItem), counts the
  recipient's unread and unseen items, finds the recipient's open WebSocket connection (the stubs
  know one: `CONNECTION`) and posts to it through API Gateway's @connections API, building that
  client as in production. The socket function's first invocation is the one a WebSocket handshake
  makes: the REQUEST authorizer on `$connect`, which reads the stack's inbox-token key from Secrets
  Manager and checks the token (the sample's placeholder replaced by one signed with the stubs' key).

The function's packages: this venv holds more than a function ships (the test and lint tools,
every vendor's SDK), so the child runs without it (`-S`) and gets a folder of links to exactly the
distributions of the layer's and the function's requirements.txt and the runtime's boto3, with
their metadata. An SDK's optional import of a dev tool (httpx tries click, pygments and rich) then
fails as it does in Lambda, and pydantic's plugin lookup reads the function's distributions only.

AWS and the vendors answer in-process (bench/_stubs.py replaces botocore's, requests' and urllib's
last step before the socket: no network, no moto, no server), so the time is the code's own:
imports, building clients and providers, reading settings and credentials, the first request's
work; sockets, TLS and the network are not in it. The child's time includes loading the stubs
(`stubs` column; mostly standard modules the handler imports anyway). `import` is the time to
import the handler module; `cold` adds the first invocation. `wall` is the child's whole life seen
from outside (interpreter start and exit included), for reference.

Beside each function, for reference (no budget): `naive`, its libraries alone, as the issue that set
the budgets describes them ("importing boto3, pydantic, Powertools and one vendor SDK naively"): in a
fresh interpreter with the function's packages, `import boto3`, Powertools' Logger, Metrics and
Tracer and the utility the function is built on (the REST event handler; the batch utility; none for
the socket function), one pydantic model defined and used, the vendor SDK's client imported as its
README shows (none for in-app and socket), and the function's AWS clients built with boto3 (`NAIVE`).
None of our code and no event: how much of the floor multiple the chosen libraries take before a
line of the function runs.

Budgets (`BUDGETS`): publish and socket <= 1.5 x floor (a user waits on each: an API answer, a
WebSocket handshake); each consumer, in-app too, <= 2.0 x floor. Prints a table and merges `cold_ms`,
`cold_import_ms` ({"floor", and each function of `FUNCTIONS`}) and `cold_naive_ms` (the functions)
into bench/results.json.

    PYTHONPATH=layers/common .venv/bin/python -m bench.cold_start [--runs 5] [--only push]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.report import record
from build.slim_build import slim_botocore
from devstack.stack import SEED_FILE
from devstack.template import REPO_ROOT, Stack, load_template

STUBS = Path(__file__).with_name("_stubs.py")
LAYER = REPO_ROOT / "layers" / "common"
EVENTS = REPO_ROOT / "events"
FUNCTIONS = {
    "publish": "PublishFunction",
    "email": "EmailFunction",
    "sms": "SmsFunction",
    "push": "PushFunction",
    "inapp": "InappFunction",
    "socket": "SocketFunction",
}
BUDGETS = {"publish": 1.5, "email": 2.0, "sms": 2.0, "push": 2.0, "inapp": 2.0, "socket": 1.5}
"""Most a function's cold start may take, as a multiple of the floor: the functions a user waits on
(the API; the WebSocket's handshake) 1.5, the queues' consumers 2.0."""

EVENT_FILES = {
    "publish": "api_publish_event.json",
    "email": "sqs_email_critical.json",
    "sms": "sqs_sms_critical.json",
    "push": "sqs_push_critical.json",
    "inapp": "sqs_inapp_critical.json",
    "socket": "websocket_authorizer.json",
}
"""The sample of events/ each function's first invocation handles (the socket's: the authorizer's
on `$connect`, with a token the stubs' key signed in place of the sample's placeholder)."""

SECRETS = {"email": "bench/sendgrid", "sms": "bench/twilio", "push": "bench/fcm"}
INBOX_TOKEN_KEY = "bench" * 13
"""The key of the stack's inbox-token secret, as the stubs answer it (64 characters, as the template
generates it)."""
CONNECTION = ("Kq3vXcB8IAMCJbw=", "user-123")
"""The WebSocket connection the stubs know (events/websocket_*.json's, open for the recipient of
events/sqs_inapp_critical.json), so the in-app function posts to it."""
OVERRIDES = {
    "SendGridCredentials": SECRETS["email"],
    "EmailFromAddress": "notifications@example.com",
    "TwilioCredentials": SECRETS["sms"],
    "TwilioFromNumber": "+14155550100",
    "FcmCredentials": SECRETS["push"],
}
"""The template's parameters that give each consumer its vendor (every other one: its default)."""

RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
"""What the Lambda Python runtime itself provides."""

LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_SESSION_TOKEN": "bench-session-token",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
}
"""What Lambda sets in every execution environment (credentials: fake ones, as Lambda's, in the
environment)."""

FLOOR_CHILD = """
import json, os, sys, time
sys.path[:0] = [os.environ.pop("BENCH_SITE")]
t0 = time.perf_counter()
import boto3
boto3.client("sns", region_name="us-east-1")
t1 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "cold_ms": (t1 - t0) * 1000}))
"""

FUNCTION_CHILD = """
import json, os, sys, time
event = json.loads(os.environ.pop("BENCH_EVENT"))
t0 = time.perf_counter()
sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], os.environ.pop("BENCH_LAYER"), os.environ.pop("BENCH_SITE")]
import importlib.util
spec = importlib.util.spec_from_file_location("_bench_stubs", os.environ.pop("BENCH_STUBS"))
stubs = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = stubs
spec.loader.exec_module(stubs)
stubs.install(stubs.Answers.from_json(os.environ.pop("BENCH_ANSWERS")))
t_stubs = time.perf_counter()
import app
t1 = time.perf_counter()
answer = app.lambda_handler(event, stubs.LambdaContext(function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"]))
t2 = time.perf_counter()
print(json.dumps({
    "stubs_ms": (t_stubs - t0) * 1000,
    "import_ms": (t1 - t0) * 1000,
    "cold_ms": (t2 - t0) * 1000,
    "answer": answer,
    "calls": dict(stubs.calls),
}))
"""

NAIVE_CHILD = """
import json, os, sys, time
sys.path[:0] = [os.environ.pop("BENCH_SITE")]
t0 = time.perf_counter()
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel
{imports}

class Body(BaseModel):
    text: str

Body(text="hello")
clients = [boto3.client(name) for name in {clients!r}]
t1 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "cold_ms": (t1 - t0) * 1000}}))
"""

_BATCH = "from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response"
_CONSUMER_CLIENTS = ("dynamodb", "sqs", "secretsmanager")
NAIVE: dict[str, tuple[tuple[str, ...], str]] = {
    "publish": (
        ("sns", "dynamodb"),
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver",
    ),
    "email": (
        _CONSUMER_CLIENTS,
        f"{_BATCH}\nfrom sendgrid import SendGridAPIClient\nfrom sendgrid.helpers.mail import Mail",
    ),
    "sms": (_CONSUMER_CLIENTS, f"{_BATCH}\nfrom twilio.rest import Client"),
    "push": (
        _CONSUMER_CLIENTS,
        f"{_BATCH}\nimport firebase_admin\nfrom firebase_admin import credentials, messaging",
    ),
    "inapp": (("dynamodb", "sqs", "apigatewaymanagementapi"), _BATCH),  # no vendor: the inbox, and posts
    "socket": (("dynamodb", "secretsmanager", "apigatewaymanagementapi"), ""),  # no Powertools utility
}
"""Each function's naive reference: the AWS clients it builds, and the imports beyond boto3, Powertools'
Logger, Metrics and Tracer, and pydantic."""


@dataclass
class Run:
    cold_ms: float
    import_ms: float
    stubs_ms: float
    wall_ms: float


def function_environment(function: str, stack: Stack) -> dict[str, str]:
    """The function's environment variables as template.yaml gives them (Globals merged)."""
    properties = stack.function_properties(FUNCTIONS[function])
    variables = stack.resolve(properties.get("Environment", {}).get("Variables", {}))
    return {name: str(value) for name, value in variables.items()}


def _stack() -> Stack:
    stack = Stack(load_template(), overrides=OVERRIDES)
    for logical_id, resource in stack.resources.items():  # dummies: nothing is called for real
        name = stack.physical_name(logical_id)
        if resource["Type"] == "AWS::SNS::Topic":
            stack.refs[logical_id] = f"arn:aws:sns:{stack.region}:{stack.account_id}:{name}"
        elif resource["Type"] == "AWS::SQS::Queue":
            stack.refs[logical_id] = f"https://sqs.{stack.region}.amazonaws.com/{stack.account_id}/{name}"
            stack.attrs[(logical_id, "Arn")] = f"arn:aws:sqs:{stack.region}:{stack.account_id}:{name}"
        else:
            stack.refs[logical_id] = name
            stack.attrs[(logical_id, "Arn")] = f"arn:aws:bench:{stack.region}:{stack.account_id}:{name}"
    return stack


def answers(stack: Stack | None = None) -> str:
    """The stubs' answers: the sample events' recipient, each vendor's credentials, the inbox-token
    key, and the sample WebSocket connection."""
    from notifier.models.recipients import RecipientDocument  # noqa: PLC0415 - the parent only

    seed = json.loads(SEED_FILE.read_text())
    from datetime import UTC, datetime  # noqa: PLC0415

    recipients = {}
    for entry in seed["recipients"]:
        if entry["recipient_id"] in ("user-123", "user_12345"):
            document = RecipientDocument.model_validate(
                {k: v for k, v in entry.items() if k != "recipient_id"}
            )
            recipient = document.for_recipient(entry["recipient_id"], updated_at=datetime.now(UTC))
            recipients[recipient.recipient_id] = recipient.model_dump_json()
    secrets = {
        SECRETS["email"]: json.dumps({"api_key": "SG.bench-key.bench-secret"}),
        SECRETS["sms"]: json.dumps({"account_sid": "AC" + "0" * 32, "auth_token": "bench-token"}),
        SECRETS["push"]: json.dumps(service_account()),
        function_environment("socket", stack or _stack())["INBOX_TOKEN_SECRET"]: INBOX_TOKEN_KEY,
    }
    return json.dumps({"recipients": recipients, "secrets": secrets, "connections": dict([CONNECTION])})


def inbox_token(environment: dict[str, str]) -> str:
    """A token the socket function takes: signed with `INBOX_TOKEN_KEY`, as `notifier.runtime`
    derives the key's id, for the function's issuer and lifetime."""
    from notifier.inbox.tokens import InboxTokens  # noqa: PLC0415 - the parent only

    key = INBOX_TOKEN_KEY.encode()
    key_id = hashlib.sha256(key).hexdigest()[:16]
    tokens = InboxTokens(
        {key_id: key},
        key_id,
        issuer=environment["INBOX_TOKEN_ISSUER"],
        lifetime=timedelta(seconds=int(environment["INBOX_TOKEN_TTL_SECONDS"])),
    )
    return tokens.issue(CONNECTION[1]).token


def sample_event(function: str, environment: dict[str, str]) -> str:
    """The function's sample event (`EVENT_FILES`), as its first invocation gets it."""
    event = json.loads((EVENTS / EVENT_FILES[function]).read_text())
    if event.get("type") == "REQUEST":  # the authorizer's: a real token for the placeholder
        token = inbox_token(environment)
        event["queryStringParameters"]["token"] = token
        event["multiValueQueryStringParameters"]["token"] = [token]
    return json.dumps(event)


def service_account() -> dict[str, str]:
    """A Firebase service-account key file, with a freshly generated RSA key."""
    from devstack.fakes.fcm import service_account_key  # noqa: PLC0415 - the parent only

    return service_account_key("bench-project")


def _requirements(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if requirement:
            names.add(_normalized(re.split(r"[=<>~!;\[ ]", requirement)[0]))
    return names


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def shipped_site(function: str, into: Path) -> Path:
    """A folder of links to what the function's deployment holds: each distribution of the layer's
    and the function's requirements.txt and the runtime's boto3, as installed in this venv, with
    botocore's data trimmed as `make build` trims the layer's (for the floor, the runtime's boto3
    alone, untouched)."""
    site = into / function
    site.mkdir()
    shipped = set(RUNTIME_PACKAGES)  # the floor: the runtime's boto3 alone
    if function in FUNCTIONS:
        shipped |= _requirements(LAYER / "requirements.txt")
        shipped |= _requirements(REPO_ROOT / "functions" / function / "requirements.txt")
    for name in sorted(shipped):
        distribution = importlib.metadata.distribution(name)
        root = Path(str(distribution.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in distribution.files or [] if not str(f).startswith("..")}
        for top in sorted(tops):
            if top == "__pycache__" or not (root / top).exists() or (site / top).exists():
                continue
            if top == "botocore" and function in FUNCTIONS:  # the layer's, as `make build` trims it
                slim_botocore(root / top, site / top)
            else:
                (site / top).symlink_to(root / top)
    return site


def child_environment(
    function: str, stack: Stack, stub_answers: str, site: Path, code: Path = REPO_ROOT
) -> dict[str, str]:
    environment = function_environment(function, stack)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **LAMBDA_ENV,
        "AWS_LAMBDA_FUNCTION_NAME": f"notifier-{FUNCTIONS[function]}",
        "LAMBDA_TASK_ROOT": str(code / "functions" / function),
        **environment,
        "BENCH_LAYER": str(code / "layers" / "common"),
        "BENCH_STUBS": str(STUBS),
        "BENCH_SITE": str(site),
        "BENCH_ANSWERS": stub_answers,
        "BENCH_EVENT": sample_event(function, environment),
    }


def run_child(code: str, env: dict[str, str]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-I", *(["-S"] if "BENCH_SITE" in env else []), "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"the child failed ({done.returncode}):\n{done.stderr}")
    # The handlers log JSON lines to stdout; the child's own line is the last one.
    return json.loads(done.stdout.strip().splitlines()[-1]), wall_ms


def check(function: str, report: dict[str, Any]) -> None:
    """The invocation did what it does in production: answered success, through its vendor."""
    answer, calls = report["answer"], report["calls"]
    if function == "publish":
        ok = answer.get("statusCode") == 202 and calls.get("sns.Publish") == 1
    elif function == "socket":  # the authorizer let the token's recipient in, with the stack's key
        ok = answer.get("principalId") == CONNECTION[1] and calls.get("secretsmanager.GetSecretValue") == 1
    elif function == "inapp":  # stored, and posted to the recipient's open connection
        ok = (
            answer == {"batchItemFailures": []}
            and calls.get("dynamodb.PutItem", 0) >= 1
            and calls.get("apigatewaymanagementapi.PostToConnection", 0) >= 1
        )
    else:
        vendor = {"email": "vendor.sendgrid", "sms": "vendor.twilio", "push": "vendor.fcm"}[function]
        ok = answer == {"batchItemFailures": []} and calls.get(vendor, 0) >= 1
    if not ok:
        raise RuntimeError(f"{function}: the invocation did not go through: {answer} {calls}")


def prepare(
    target: str, stack: Stack, stub_answers: str, sites: Path, *, code: Path = REPO_ROOT
) -> tuple[str, dict[str, str]]:
    """The child's code and environment for one target."""
    site = shipped_site(target, sites)
    if target == "floor":
        return FLOOR_CHILD, {"PATH": os.environ.get("PATH", ""), **LAMBDA_ENV, "BENCH_SITE": str(site)}
    return FUNCTION_CHILD, child_environment(target, stack, stub_answers, site, code)


def _median(runs: list[Run]) -> float:
    return round(statistics.median(r.cold_ms for r in runs), 1)


def _figures(runs: list[Run]) -> str:
    """cold (min-max), import, stubs and wall: the table's columns."""
    colds = [r.cold_ms for r in runs]
    return (
        f"{statistics.median(colds):7.1f} ({min(colds):6.1f}-{max(colds):6.1f})"
        f" {statistics.median(r.import_ms for r in runs):8.1f}"
        f" {statistics.median(r.stubs_ms for r in runs):6.1f}"
        f" {statistics.median(r.wall_ms for r in runs):7.1f}"
    )


def _naive_label(function: str) -> str:
    return f"{function}, naive"


def prepare_naive(function: str, sites: Path) -> tuple[str, dict[str, str]]:
    """The child's code and environment for a function's naive reference (see the module's
    docstring), with the packages of the function's site, which `prepare(function, ...)` made."""
    clients, imports = NAIVE[function]
    site = sites / function
    if not site.is_dir():
        raise RuntimeError(f"no site for {function}: prepare() it first")
    code = NAIVE_CHILD.format(imports=imports, clients=list(clients))
    return code, {"PATH": os.environ.get("PATH", ""), **LAMBDA_ENV, "BENCH_SITE": str(site)}


def measure(children: dict[str, tuple[str, dict[str, str]]], runs: int) -> dict[str, list[Run]]:
    """`runs` children per target, in rounds (each round runs every target once, in turn), after one
    unmeasured round that fills the bytecode cache. Interleaved, the floor and the functions see
    the same machine: a neighbour's burst of load lands on all of them rather than on one target's
    whole series, which would move its ratio to the floor."""
    measured: dict[str, list[Run]] = {target: [] for target in children}
    for run in range(runs + 1):
        for target, (child, env) in children.items():
            report, wall_ms = run_child(child, env)
            if target in FUNCTIONS:
                check(target, report)
            if run:
                measured[target].append(
                    Run(report["cold_ms"], report["import_ms"], report.get("stubs_ms", 0.0), wall_ms)
                )
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=list(FUNCTIONS), action="append", help="these functions only")
    parser.add_argument(
        "--code",
        type=Path,
        default=REPO_ROOT,
        help="measure the functions/ and layers/common/ of this tree (e.g. a copy from before a change)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = parser.parse_args()

    stack = _stack()
    stub_answers = answers(stack)
    functions = args.only or list(FUNCTIONS)
    cold: dict[str, float] = {}
    imported: dict[str, float] = {}
    naive: dict[str, float] = {}
    print(f"cold start, ms: median of {args.runs} fresh interpreters (min-max)")
    print(f"  {'target':14} {'cold':>22} {'import':>8} {'stubs':>6} {'wall':>7}  budget")
    sites = Path(tempfile.mkdtemp(prefix="bench-cold-start-"))
    try:
        children = {
            target: prepare(target, stack, stub_answers, sites, code=args.code.resolve())
            for target in ["floor", *functions]
        }
        children.update({_naive_label(f): prepare_naive(f, sites) for f in functions})
        measured = measure(children, args.runs)
    finally:
        shutil.rmtree(sites)
    floor = cold["floor"] = imported["floor"] = _median(measured["floor"])
    print(f"  {'floor':14} {_figures(measured['floor'])}")
    for function in functions:
        runs = measured[function]
        cold[function] = _median(runs)
        imported[function] = round(statistics.median(r.import_ms for r in runs), 1)
        limit = BUDGETS[function] * floor
        verdict = "PASS" if cold[function] <= limit else "FAIL"
        print(
            f"  {function:14} {_figures(runs)}  {verdict}: {cold[function] / floor:.2f} x floor"
            f" (<= {BUDGETS[function]} x, {limit:.0f} ms)"
        )
        label = _naive_label(function)
        naive[function] = _median(measured[label])
        print(f"  {label:14} {_figures(measured[label])}  reference: {naive[function] / floor:.2f} x floor")
    if args.no_write or args.code.resolve() != REPO_ROOT:
        return
    record({"cold_ms": cold, "cold_import_ms": imported, "cold_naive_ms": naive}, merge=True)


if __name__ == "__main__":
    main()
