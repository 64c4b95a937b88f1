"""The local stack: an AWS emulator, the template's resources, the APIs and the event sources.

The REST API is served on `--port` (`devstack.api`), the template's WebSocket API, when it has one, on
`--ws-port` (`devstack.websocket`, with its @connections endpoint on the same port). Every function
is told the local URLs instead of the execute-api ones the template resolves: PublicApiUrl is this
REST API's URL, and WEBSOCKET_MANAGEMENT_URL this WebSocket API's @connections endpoint.

The stack has no emulator for Amazon SES or AWS End User Messaging SMS: when EmailProviders or
SmsProviders names `ses` or `eum`, the functions are told SANDBOX_PROVIDERS=ses,eum, and each is
played by a sandbox of its own (`sandbox-ses`, `sandbox-eum`), as a vendor without credentials is
(`sandbox-sendgrid`, `sandbox-twilio`, when the channel has a fallback).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from .api import ApiGateway, ApiServer
from .event_sources import SqsPoller
from .faults import CHAOS_VARIABLE, STARTED_VARIABLE, Faults
from .lambda_runtime import ProcessPool
from .outbox import OutboxFile
from .provision import Deployment, FunctionSpec, WebSocketApiSpec, gateway_responses, provision
from .schedules import ScheduleFirer
from .template import DEFAULT_STACK_NAME, REPO_ROOT, TEMPLATE_PATH, Stack, TemplateError, load_template
from .websocket import DEFAULT_PORT as DEFAULT_WS_PORT
from .websocket import WebSocketGateway, WebSocketServer

if TYPE_CHECKING:
    from .outage import OutageWindows

SEED_FILE = Path(__file__).with_name("seed_recipients.json")
DEFAULT_API_KEY = "local-development-key"
MIN_API_KEY_LENGTH, MAX_API_KEY_LENGTH = 20, 128
"""The lengths of API key value API Gateway (and so MiniStack, and moto) takes."""
EMULATORS = ("ministack", "moto")
DEFAULT_EMULATOR = "ministack"
"""MiniStack (pinned in requirements/ministack.txt, installed by make run and make test), about four
times faster than moto's server under load (docs/performance.md); moto's server stays selectable."""
MANAGEMENT_URL_VARIABLE = "WEBSOCKET_MANAGEMENT_URL"
SANDBOX_PROVIDERS_VARIABLE = "SANDBOX_PROVIDERS"
PROVIDERS_VARIABLES = ("EMAIL_PROVIDERS", "SMS_PROVIDERS")
OUTBOX_VARIABLE = "SANDBOX_OUTBOX_PATH"
EMULATED_BY_THE_SANDBOX = ("ses", "eum")
"""The providers the local stack has no emulator for: the sandbox plays them."""


class StartupError(RuntimeError):
    """The local stack cannot start; the message says why and what to do."""


@dataclass
class LocalConfig:
    host: str = "127.0.0.1"
    api_port: int = 3000
    emulator_port: int = 4566
    ws_port: int = DEFAULT_WS_PORT
    endpoint: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    api_key: str = DEFAULT_API_KEY
    stack_name: str = DEFAULT_STACK_NAME
    region: str = "us-east-1"
    account_id: str = "123456789012"
    seed_file: Path | None = SEED_FILE
    max_environments: int = 4
    warm_environments: int = 1
    """Execution environments of each function started before the stack is ready, so the first
    requests find them warm and a handler that cannot even import stops the start; 0 starts each on
    its first invocation, as Lambda does (a stack that exercises a few of its functions then starts
    none of the others)."""
    template_path: Path = TEMPLATE_PATH
    faults: Faults | None = None
    emulator: str = DEFAULT_EMULATOR
    """One of EMULATORS, started in a process of its own; unused with `endpoint`."""


class LocalStack:
    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.endpoint = config.endpoint
        self.deployment: Deployment | None = None
        self.pollers: list[SqsPoller] = []
        self.schedule_firer: ScheduleFirer | None = None
        """Fires the schedules of the template's schedule group (moto's Scheduler never fires them)."""
        self.functions: dict[str, ProcessPool] = {}
        self._emulator: Any = None
        self._api: ApiServer | None = None
        self._websocket: WebSocketServer | None = None
        self._outage_watchers: list[OutageWindows] = []
        """The outages of --chaos, each logged once when it starts and ends."""
        self._environment_before: dict[str, str] | None = None
        self._process_environment: dict[str, str] = {}
        """This process's variables before the functions' were added: each environment's base."""
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        """Where the stack keeps its files while it runs (the outbox), removed when it stops."""
        self.websocket_stage: str | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        config = self.config
        self._environment_before = dict(os.environ)
        # The API's port first: the template is resolved with the URL it makes (see _overrides).
        self._api = _bind_api(config.host, config.api_port)
        try:
            template = load_template(config.template_path)
            stack = Stack(
                template,
                name=config.stack_name,
                region=config.region,
                account_id=config.account_id,
                overrides=self._overrides(template),
            )
        except TemplateError as exc:
            raise StartupError(str(exc)) from None
        # Then the WebSocket API's: its @connections URL is each function's WEBSOCKET_MANAGEMENT_URL.
        if stack.resources_of_type("AWS::Serverless::WebSocketApi"):
            self._websocket = _bind_websocket(config.host, config.ws_port)
        if self.endpoint is None:
            _check_port_free(config.host, config.emulator_port, "emulator", "--emulator-port")
            self._start_emulator()
        self._point_boto3_at_endpoint()
        try:
            _name_what_the_sandbox_plays(stack)
            self.deployment = provision(stack, client=self.client, api_key=config.api_key, log=_log)
        except TemplateError as exc:
            raise StartupError(str(exc)) from None
        websocket_api = self._websocket_api(self.deployment)
        self._set_function_environment(self.deployment)
        _put_layers_on_path(stack)
        from notifier import runtime  # noqa: PLC0415 - importable once the layer is on the path

        runtime.reset()
        self._seed_recipients()
        chaos = self._check_faults(config.faults) if config.faults is not None else {}

        self._start_environments(stack, self.deployment, chaos)
        for source in self.deployment.sqs_sources:
            poller = SqsPoller(
                source, self.functions[source.function], self.client("sqs"), region=stack.region, log=_log
            )
            self.pollers.append(poller)
            poller.start()
        self._start_schedule_firer(self.deployment)
        try:
            [api_logical_id] = stack.resources_of_type("AWS::Serverless::Api")
            gateway = ApiGateway(
                [route for spec in self.deployment.functions.values() for route in spec.api_routes],
                self.functions,
                stage=self._stage(stack),
                api_key=config.api_key if self._api_key_required(stack) else None,
                region=stack.region,
                account_id=stack.account_id,
                outbox=OutboxFile(self.outbox_path).entries,
                log=_log,
                # API Gateway's own answers, as the template customizes them.
                gateway_responses=gateway_responses(stack, api_logical_id),
            )
        except TemplateError as exc:
            raise StartupError(str(exc)) from None
        self._api.attach(gateway)
        self._api.start()
        if self._websocket is not None and websocket_api is not None:
            self._websocket.attach(
                WebSocketGateway(
                    websocket_api, self.functions, region=stack.region, account_id=stack.account_id, log=_log
                )
            )
            self._websocket.start()

    def _start_environments(self, stack: Stack, deployment: Deployment, chaos: dict[str, str]) -> None:
        """Every function's execution environments, in processes of their own, as many at once as
        invocations in flight (up to max_environments), as in Lambda: each with its own module state,
        its own Lambda context on its log lines, and the faults of --chaos (`chaos`, to the functions
        with an event source) applied inside it. `warm_environments` of each function are started now, all at
        once."""

        def environments(spec: FunctionSpec) -> ProcessPool:
            return ProcessPool(
                spec,
                stack_name=stack.name,
                region=stack.region,
                account_id=stack.account_id,
                max_environments=self.config.max_environments,
                import_path=_layer_paths(stack),
                environment={
                    **self._process_environment,
                    **spec.environment,
                    **(chaos if spec.sqs_sources else {}),
                },
                warm=self.config.warm_environments,
                log=_log,
            )

        specs = deployment.functions
        with ThreadPoolExecutor(max_workers=len(specs) or 1) as starting:
            started = {logical_id: starting.submit(environments, spec) for logical_id, spec in specs.items()}
        failed: BaseException | None = None
        for logical_id, future in started.items():  # every environment that started, to stop
            if (error := future.exception()) is None:
                self.functions[logical_id] = future.result()
            else:
                failed = failed or error
        if failed is not None:
            raise StartupError(f"a function's first execution environment did not start: {failed}")

    def _start_schedule_firer(self, deployment: Deployment) -> None:
        """A firer for the template's schedule group, if it has one: the schedules the functions create
        there send to the queues the pollers read."""
        groups = deployment.schedule_groups
        if len(groups) > 1:
            names = ", ".join(groups)
            raise StartupError(
                f"the template has {len(groups)} schedule groups ({names}); the local stack fires one"
            )
        if not groups:
            return
        [group_name] = groups.values()
        self.schedule_firer = ScheduleFirer(
            self.client("scheduler"), self.client("sqs"), group_name, log=_log
        )
        self.schedule_firer.start()

    def _websocket_api(self, deployment: Deployment) -> WebSocketApiSpec | None:
        """The template's WebSocket API, and every function told its @connections URL: this port's,
        whatever the template resolved (an execute-api URL the local stack does not serve). boto3
        clients of the @connections API that name no endpoint reach it too, not the emulator (which
        would take a post to any connection id)."""
        apis = list(deployment.websocket_apis.values())
        if len(apis) > 1:
            names = ", ".join(api.logical_id for api in apis)
            raise StartupError(
                f"the template has {len(apis)} WebSocket APIs ({names}); the local stack serves one"
            )
        if not apis or self._websocket is None:
            return None
        [api] = apis
        url = f"http://{_loopback(self.config.host)}:{self._websocket.port}/{api.stage}"
        for spec in deployment.functions.values():
            spec.environment[MANAGEMENT_URL_VARIABLE] = url
        os.environ["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] = url
        self.websocket_stage = api.stage
        return api

    def _overrides(self, template: dict[str, Any]) -> dict[str, str]:
        """The Parameters given, and PublicApiUrl: this API's own URL unless one is given. Twilio signs
        the URL it calls, so the consumers (which post the sandbox's receipts there, and name it as each
        SMS's status callback) and the webhooks function (which checks the signature over it) must agree
        on it; here they all read it from this one Parameter."""
        overrides = dict(self.config.overrides)
        if "PublicApiUrl" in template.get("Parameters", {}):
            overrides.setdefault("PublicApiUrl", self.api_url)
        return overrides

    def stop(self) -> None:
        if self._websocket is not None:  # its clients' $disconnect still reach the functions
            self._websocket.stop()
        if self.schedule_firer is not None:  # nothing more sent to the queues the pollers drain
            self.schedule_firer.stop()
        for poller in self.pollers:  # all stop receiving at once, then each one's batches are waited for
            poller.signal_stop()
        for poller in self.pollers:  # not a receive still waiting (up to 20 s): it hands back what it gets
            poller.stop(wait_for_receives=False)
        for pool in self.functions.values():  # every environment told at once, then each waited for
            pool.signal_stop()
        for pool in self.functions.values():
            pool.stop()
        for watcher in self._outage_watchers:
            watcher.close()
        if self._api is not None:
            self._api.stop()
        if self._emulator is not None:
            self._emulator.stop()
        if self._scratch is not None:
            self._scratch.cleanup()
        if self._environment_before is not None:  # this process's variables, as they were before start
            os.environ.clear()
            os.environ.update(self._environment_before)

    @property
    def outbox_path(self) -> Path:
        """The sandbox's outbox: every environment appends what it delivered (SANDBOX_OUTBOX_PATH)."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="notifier-local-")
        return Path(self._scratch.name) / "outbox.jsonl"

    @property
    def api_url(self) -> str:
        """The API's URL as clients call it: its own port once bound (--port 0 binds any free one), and
        127.0.0.1 when it listens on every address."""
        port = self._api.port if self._api else self.config.api_port
        return f"http://{_loopback(self.config.host)}:{port}"

    @property
    def websocket_url(self) -> str | None:
        """The WebSocket API's URL as clients call it (ws://127.0.0.1:<port>/<stage>); None when the
        template has none."""
        if self._websocket is None or self.websocket_stage is None:
            return None
        return f"ws://{_loopback(self.config.host)}:{self._websocket.port}/{self.websocket_stage}"

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.config.region, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    # ------------------------------------------------------------------ parts

    def _start_emulator(self) -> None:
        from .emulator import EmulatorProcess, MiniStackProcess  # noqa: PLC0415 - none with --endpoint

        config = self.config
        try:
            if config.emulator == "ministack":
                self._emulator = MiniStackProcess(
                    config.host, config.emulator_port, account_id=config.account_id
                ).start()
            else:
                self._emulator = EmulatorProcess(config.host, config.emulator_port).start()
        except RuntimeError as exc:
            raise StartupError(str(exc)) from None
        host, port = self._emulator.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def _point_boto3_at_endpoint(self) -> None:
        # The handlers are unchanged: boto3 finds the emulator through AWS_ENDPOINT_URL.
        os.environ["AWS_ENDPOINT_URL"] = str(self.endpoint)
        os.environ["AWS_DEFAULT_REGION"] = self.config.region
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

    def _set_function_environment(self, deployment: Deployment) -> None:
        """Every function's variables, from the template. Each environment is given its own function's
        over this process's (as they were before: `_process_environment`); this process, which seeds
        the recipients and checks the faults through the same code, takes them all. A function that
        names its providers is also told which the sandbox plays (`sandbox_providers`), and every
        function where the sandbox's outbox is (`outbox_path`)."""
        self._process_environment = dict(os.environ)
        for spec in deployment.functions.values():
            played = sandbox_providers(spec.environment.get(name, "") for name in PROVIDERS_VARIABLES)
            if played:
                spec.environment[SANDBOX_PROVIDERS_VARIABLE] = played
            spec.environment.setdefault(OUTBOX_VARIABLE, str(self.outbox_path))
        for spec in deployment.functions.values():
            os.environ.update(spec.environment)

    def _check_faults(self, faults: Faults) -> dict[str, str]:
        """The variables that carry `faults` to the environments of every function with an event
        source, which apply them to themselves (`devstack.injection`), once this stack has checked
        them; and each outage's start and end logged here, once, as they come."""
        from . import injection  # noqa: PLC0415 - needs the layer on the path

        try:
            injection.check(faults)
        except injection.InjectionError as exc:
            raise StartupError(str(exc)) from None
        started = time.time()
        self._outage_watchers = injection.outage_watchers(faults, started=started, log=_stderr_line)
        for watcher in self._outage_watchers:
            spans = ", ".join(f"{w.start:g}-{w.end:g} s" for w in watcher.outages)
            _log(f"injecting an outage of {watcher.provider}: {spans} from now")
            watcher.watch()  # after the line above: its first line may come at once
        _log(f"injecting faults into the functions with an event source: {faults.as_option()}")
        return {CHAOS_VARIABLE: faults.as_option(), STARTED_VARIABLE: repr(started)}

    def _seed_recipients(self) -> None:
        if self.config.seed_file is None:
            return
        from notifier import runtime  # noqa: PLC0415 - importable once the layer is on the path
        from notifier.models.recipients import Recipient  # noqa: PLC0415

        data = json.loads(self.config.seed_file.read_text(encoding="utf-8"))
        store = runtime.recipient_store()
        for raw in data["recipients"]:
            store.put(Recipient.model_validate(raw))

    @staticmethod
    def _stage(stack: Stack) -> str:
        [api] = stack.resources_of_type("AWS::Serverless::Api").values()
        return str(stack.resolve(api["Properties"].get("StageName", "prod")))

    @staticmethod
    def _api_key_required(stack: Stack) -> bool:
        """API_KEY authorization is emulated (x-api-key); SigV4 and Cognito tokens cannot be checked
        here, so the local stack refuses to start with them rather than serve an open API."""
        mode = str(stack.resolve({"Ref": "ApiAuthorization"}))
        if mode != "API_KEY":
            raise TemplateError(
                f"ApiAuthorization={mode}: the local stack emulates API_KEY authorization only; "
                "run it with ApiAuthorization=API_KEY (the default)"
            )
        return True


def sandbox_providers(providers: Iterable[str]) -> str:
    """SANDBOX_PROVIDERS for a function whose EMAIL_PROVIDERS and SMS_PROVIDERS are `providers`:
    `ses,eum` when they name either (the local stack has no emulator for them), else ""."""
    named = {name.strip() for value in providers for name in value.split(",")}
    return ",".join(EMULATED_BY_THE_SANDBOX) if named & set(EMULATED_BY_THE_SANDBOX) else ""


SANDBOX_PLAYED_RESOURCES = {
    "AWS::SES::ConfigurationSet": "Name",
    "AWS::SMSVOICE::ConfigurationSet": "ConfigurationSetName",
}
"""The resources of the providers the sandbox plays (SES, End User Messaging), which the local stack
does not create, and the property their Ref gives (their name)."""


def _name_what_the_sandbox_plays(stack: Stack) -> None:
    """SES's and End User Messaging's configuration sets are not created (the sandbox plays them, see
    `sandbox_providers`), but what refers to them must resolve: SES_CONFIGURATION_SET, for one."""
    for resource_type, name_property in SANDBOX_PLAYED_RESOURCES.items():
        for logical_id, resource in stack.resources_of_type(resource_type).items():
            if not stack.condition(resource.get("Condition")):
                continue
            properties = resource.get("Properties", {})
            name = properties.get(name_property, stack.physical_name(logical_id))
            stack.refs.setdefault(logical_id, str(stack.resolve(name)))


def _layer_paths(stack: Stack) -> list[str]:
    """Each layer's code, as Lambda mounts a layer's python/ folder on the path."""
    return [
        str(REPO_ROOT / layer["Properties"]["ContentUri"])
        for layer in stack.resources_of_type("AWS::Serverless::LayerVersion").values()
    ]


def _put_layers_on_path(stack: Stack) -> None:
    for path in _layer_paths(stack):
        if path not in sys.path:
            sys.path.insert(0, path)


def _bind_api(host: str, port: int) -> ApiServer:
    """The API's socket, bound (port 0: any free port), not yet served."""
    try:
        return ApiServer(None, host, port)
    except OSError as exc:
        raise _port_error(exc, host, port, "API", "--port") from None


def _bind_websocket(host: str, port: int) -> WebSocketServer:
    """The WebSocket API's socket, bound (port 0: any free port), not yet served."""
    try:
        return WebSocketServer(None, host, port)
    except OSError as exc:
        raise _port_error(exc, host, port, "WebSocket", "--ws-port") from None


def _loopback(host: str) -> str:
    """The address clients call: 127.0.0.1 when the stack listens on every address."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - compared, not bound


def _check_port_free(host: str, port: int, what: str, option: str) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _port_error(exc, host, port, what, option) from None


def _port_error(exc: OSError, host: str, port: int, what: str, option: str) -> Exception:
    """The StartupError saying the port is taken, or `exc` itself when something else went wrong."""
    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
        return StartupError(
            f"the {what} port {host}:{port} is already in use; stop what uses it or choose "
            f"another with {option} PORT"
        )
    return exc


def _stderr_line(line: str) -> None:
    sys.stderr.write(line + "\n")  # one write, so that lines from several threads do not interleave
    sys.stderr.flush()


def _log(message: str) -> None:
    print(f"[local] {message}", file=sys.stderr, flush=True)
