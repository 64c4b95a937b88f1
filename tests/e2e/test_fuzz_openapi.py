"""The API against its published contract: schemathesis fuzzes every operation of `docs/openapi.json`
on a local stack and checks each answer against what the contract promises.

Checks, exactly: not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance, negative_data_rejection and positive_data_acceptance; schema-valid and
schema-invalid requests alike (`--mode all`); the examples, coverage, fuzzing and stateful phases.
Bounded and reproducible: a fixed seed, no example database, one worker, `MAX_EXAMPLES` per
operation and phase: under two minutes on 2 cores. Every request goes to the local stack on 127.0.0.1.

Why schemathesis's CLI (`st run`, in a child process) and not its pytest integration
(`@schema.parametrize()` and `case.call_and_validate()`): under pytest each operation is one Hypothesis
test, which stops at its first failing example and shrinks it, so a broken contract is reported one
failure per operation at a time; the CLI's engine runs every phase (the coverage phase's unsupported
methods and malformed Content-Types, the stateful phase's inferred links) to the end with
`--continue-on-failure` and reports every distinct failure at once, takes exactly the listed checks
with `--checks`, and writes each request and response to an NDJSON report, from which this test
prints, for each failure, its check, operation, request and response.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack.process import LocalStackProcess
from devstack.template import REPO_ROOT

SCHEMA = REPO_ROOT / "docs" / "openapi.json"
CONFIG = Path(__file__).with_name("schemathesis.toml")  # what differs from schemathesis's defaults
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
)
PHASES = ("examples", "coverage", "fuzzing", "stateful")
SEED = int(os.environ.get("FUZZ_SEED", "20240917"))
# Per operation, in the fuzzing and stateful phases; the coverage phase sends every case the contract
# defines (about 1,100, two thirds of the run) whatever this says. The local stack answers one request
# at a time: with 30, schemathesis runs for about 45 s on 2 busy cores, the test for under a minute.
# `make fuzz` runs it deeper, with another seed each time (FUZZ_MAX_EXAMPLES, FUZZ_SEED): 250 and 400
# examples found two failures of the contract that 30 did not (2026-12-04).
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
REQUEST_TIMEOUT = 10  # seconds, for one request
RUN_TIMEOUT = 600  # seconds, for the whole run: a hung stack fails the test instead of the CI job
BODY_PREVIEW = 600  # characters of a request or response body in the failure report
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


@dataclass(frozen=True)
class Failure:
    check: str  # schemathesis's check name, such as status_code_conformance
    code: str  # its failure code, such as ST103 (`st explain ST103`)
    title: str
    operation: str  # as in the contract, such as "POST /event"
    message: str
    request: str  # method, URL, headers and body as sent
    status: int | None  # the response's, None when there was none
    response: str  # status, content type and body
    phase: str
    case_id: str

    def key(self) -> tuple[str, str, str, str, int | None]:
        """Two failures of one check on one operation with the same answer are one bug (this is close
        to schemathesis's own de-duplication, which its NDJSON report does not carry)."""
        return (self.check, self.code, self.operation, self.title, self.status)

    def describe(self, count: int) -> str:
        return "\n".join(
            [
                f"[{self.check}] {self.code} {self.title}: {self.operation}"
                f" ({count} case{'s' if count > 1 else ''}, e.g. {self.case_id} in the {self.phase} phase)",
                _indent(self.message),
                "  request:",
                _indent(self.request, 4),
                "  response:",
                _indent(self.response, 4),
            ]
        )


def test_the_api_keeps_its_published_contract(local: LocalStackProcess, tmp_path: Path) -> None:
    assert SCHEMA.is_file(), f"the published contract {SCHEMA} is missing"
    base_url = urlsplit(local.url)
    assert (base_url.scheme, base_url.hostname) == ("http", "127.0.0.1"), local.url  # nothing but loopback
    events = tmp_path / "schemathesis.ndjson"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        str(SCHEMA),
        # The contract's `servers` names "/" or a deployed stage: the local stack replaces it.
        "--url",
        local.url,
        "--header",
        f"x-api-key: {local.api_key}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        ",".join(PHASES),
        "--mode",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        # No example database: a run replays nothing from an earlier one, and writes nothing.
        "--generation-database",
        "none",
        # One request at a time, in one order: the local stack serves one at a time anyway.
        "--workers",
        "1",
        "--continue-on-failure",
        "--max-redirects",
        "0",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
        # The key is the local stack's well-known development key: printed, failures replay as is.
        "--output-sanitize",
        "false",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(events),
    ]
    # No proxy may carry a request elsewhere; the run starts outside the repository so that no other
    # schemathesis.toml than CONFIG changes it.
    environment = {name: value for name, value in os.environ.items() if name.lower() not in PROXY_VARIABLES}
    environment |= {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "PYTHONIOENCODING": "utf-8"}
    environment["SCHEMATHESIS_HOOKS"] = str(HOOKS)  # what the contract cannot say (see that file)
    started = time.monotonic()
    run = subprocess.run(
        command,
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=RUN_TIMEOUT,
        check=False,
    )
    elapsed = time.monotonic() - started
    # Shown by pytest when the test fails: schemathesis's own report, with a curl command per failure.
    print(run.stdout, run.stderr, sep="\n")
    print(f"schemathesis ran for {elapsed:.1f} s")

    failures, errors = read_report(events)
    distinct: dict[tuple[str, str, str, str, int | None], list[Failure]] = {}
    for failure in failures:
        distinct.setdefault(failure.key(), []).append(failure)
    report = [examples[0].describe(len(examples)) for examples in distinct.values()]
    assert not report, f"{len(report)} distinct failures of the contract {SCHEMA.name}:\n\n" + "\n\n".join(
        report
    )
    assert not errors, "schemathesis could not test everything:\n" + "\n".join(errors)
    assert run.returncode == 0, (
        f"schemathesis exited with {run.returncode}:\n{run.stdout[-4000:]}{run.stderr}"
    )


def read_report(path: Path) -> tuple[list[Failure], list[str]]:
    """The failed checks (with their cases' requests and responses) and the errors of an NDJSON report."""
    assert path.is_file(), f"schemathesis wrote no report to {path}"
    failures: list[Failure] = []
    errors: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        event: dict[str, Any] = json.loads(line)
        (kind, data), *_ = event.items()
        if kind in {"NonFatalError", "FatalError"}:
            info = data.get("info") or data.get("value") or data
            errors.append(f"{kind}: {json.dumps(info)[:BODY_PREVIEW]}")
        if kind != "ScenarioFinished":
            continue
        recorder = data["recorder"]
        for case_id, checks in recorder.get("checks", {}).items():
            interaction = recorder.get("interactions", {}).get(case_id) or {}
            for check in checks:
                info = check.get("failure_info")
                if check["status"] == "error":
                    errors.append(f"{check['name']} errored on {recorder['label']} ({case_id})")
                if not info:
                    continue
                failure = info["failure"]
                response = interaction.get("response")
                failures.append(
                    Failure(
                        check=check["name"],
                        code=failure.get("code") or failure["type"],
                        title=failure["title"],
                        operation=failure.get("operation") or recorder["label"],
                        message=failure.get("message") or "",
                        request=_request(interaction.get("request")),
                        status=response["status_code"] if response else None,
                        response=_response(response),
                        phase=data["phase"],
                        case_id=case_id,
                    )
                )
    return failures, errors


def _request(request: dict[str, Any] | None) -> str:
    if not request:
        return "(not recorded)"
    headers = [f"{name}: {', '.join(values)}" for name, values in request.get("headers", {}).items()]
    return "\n".join([f"{request['method']} {request['uri']}", *headers, _body(request.get("body"))])


def _response(response: dict[str, Any] | None) -> str:
    if not response:
        return "(none)"
    content_type = ", ".join(response.get("headers", {}).get("content-type", ["(no content type)"]))
    return f"{response['status_code']} {content_type}\n{_body(response.get('content'))}"


def _body(body: dict[str, Any] | str | None) -> str:
    if body is None:
        return "(no body)"
    raw = base64.b64decode(body["$base64"]) if isinstance(body, dict) else body.encode()
    text = raw.decode("utf-8", errors="backslashreplace")
    return text if len(text) <= BODY_PREVIEW else f"{text[:BODY_PREVIEW]}... ({len(raw)} bytes)"


def _indent(text: str, by: int = 2) -> str:
    return "\n".join(" " * by + line for line in text.splitlines())
