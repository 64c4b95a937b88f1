"""The local stack: an AWS emulator, the template's resources, the API and the event sources."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from .api import ApiGateway, ApiServer
from .event_sources import SqsPoller
from .faults import Faults
from .lambda_runtime import FunctionPool
from .provision import Deployment, gateway_responses, provision
from .template import REPO_ROOT, TEMPLATE_PATH, Stack, TemplateError, load_template

SEED_FILE = Path(__file__).with_name("seed_recipients.json")
DEFAULT_API_KEY = "local-dev-key"


class StartupError(RuntimeError):
    """The local stack cannot start; the message says why and what to do."""


@dataclass
class LocalConfig:
    host: str = "127.0.0.1"
    api_port: int = 3000
    emulator_port: int = 4566
    endpoint: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    api_key: str = DEFAULT_API_KEY
    stack_name: str = "notifier"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    seed_file: Path | None = SEED_FILE
    max_environments: int = 4
    template_path: Path = TEMPLATE_PATH
    faults: Faults | None = None


class LocalStack:
    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.endpoint = config.endpoint
        self.deployment: Deployment | None = None
        self.pollers: list[SqsPoller] = []
        self.functions: dict[str, FunctionPool] = {}
        self._emulator: Any = None
        self._api: ApiServer | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        config = self.config
        _check_port_free(config.host, config.api_port, "API", "--port")
        if self.endpoint is None:
            _check_port_free(config.host, config.emulator_port, "emulator", "--emulator-port")
            self._start_moto()
        self._point_boto3_at_endpoint()
        try:
            stack = Stack(
                load_template(config.template_path),
                name=config.stack_name,
                region=config.region,
                account_id=config.account_id,
                overrides=config.overrides,
            )
        except TemplateError as exc:
            raise StartupError(str(exc)) from None
        self.deployment = provision(stack, client=self.client)
        self._set_function_environment(self.deployment)
        _put_layers_on_path(stack)
        from notifier import runtime  # noqa: PLC0415 - importable once the layer is on the path

        runtime.reset()
        self._seed_recipients()
        if config.faults is not None:
            self._inject_faults(config.faults, self.deployment)
        self.functions = {
            logical_id: FunctionPool(
                spec,
                stack_name=stack.name,
                region=stack.region,
                account_id=stack.account_id,
                max_environments=config.max_environments,
            )
            for logical_id, spec in self.deployment.functions.items()
        }
        for source in self.deployment.sqs_sources:
            poller = SqsPoller(
                source, self.functions[source.function], self.client("sqs"), region=stack.region, log=_log
            )
            self.pollers.append(poller)
            poller.start()
        try:
            [api_logical_id] = stack.resources_of_type("AWS::Serverless::Api")
            gateway = ApiGateway(
                [route for spec in self.deployment.functions.values() for route in spec.api_routes],
                self.functions,
                stage=self._stage(stack),
                api_key=config.api_key if self._api_key_required(stack) else None,
                region=stack.region,
                account_id=stack.account_id,
                outbox=lambda: [asdict(entry) for entry in runtime.outbox().entries()],
                log=_log,
                # API Gateway's own answers, as the template customizes them.
                gateway_responses=gateway_responses(stack, api_logical_id),
            )
        except TemplateError as exc:
            raise StartupError(str(exc)) from None
        self._api = ApiServer(gateway, config.host, config.api_port)
        self._api.start()

    def stop(self) -> None:
        if self._api is not None:
            self._api.stop()
        for poller in self.pollers:  # all stop receiving at once, then each is waited for
            poller.signal_stop()
        for poller in self.pollers:
            poller.stop()
        if self._emulator is not None:
            self._emulator.stop()

    @property
    def api_url(self) -> str:
        port = self._api.port if self._api else self.config.api_port
        return f"http://{self.config.host}:{port}"

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.config.region, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    # ------------------------------------------------------------------ parts

    def _start_moto(self) -> None:
        from .emulator import start_emulator  # noqa: PLC0415 - moto is not needed with --endpoint

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per emulator request otherwise
        self._emulator = start_emulator(self.config.host, self.config.emulator_port)
        host, port = self._emulator.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def _point_boto3_at_endpoint(self) -> None:
        # The handlers are unchanged: boto3 finds the emulator through AWS_ENDPOINT_URL.
        os.environ["AWS_ENDPOINT_URL"] = str(self.endpoint)
        os.environ["AWS_DEFAULT_REGION"] = self.config.region
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

    def _set_function_environment(self, deployment: Deployment) -> None:
        """Every function's variables, from the template; the functions share this one process."""
        merged: dict[str, tuple[str, str]] = {}
        for logical_id, spec in deployment.functions.items():
            for name, value in spec.environment.items():
                if name in merged and merged[name][1] != value:
                    raise StartupError(
                        f"{logical_id} and {merged[name][0]} set {name} differently; the local stack runs "
                        "every function in one process and needs one value"
                    )
                merged[name] = (logical_id, value)
        for name, (_, value) in merged.items():
            os.environ[name] = value

    @staticmethod
    def _inject_faults(faults: Faults, deployment: Deployment) -> None:
        from notifier import runtime  # noqa: PLC0415 - importable once the layer is on the path
        from notifier.models.channels import Channel  # noqa: PLC0415

        from .faulty_provider import FaultyProvider  # noqa: PLC0415 - needs the layer on the path

        timeout = max((s.timeout for s in deployment.functions.values() if s.sqs_sources), default=3)
        for channel in Channel:
            runtime.use_provider(
                channel, FaultyProvider(runtime.provider(channel), faults, timeout_seconds=timeout)
            )
        _log(f"injecting faults into every consumer: {faults}")

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


def _put_layers_on_path(stack: Stack) -> None:
    """Each layer's code importable, as Lambda mounts a layer's python/ folder on the path."""
    for layer in stack.resources_of_type("AWS::Serverless::LayerVersion").values():
        path = str(REPO_ROOT / layer["Properties"]["ContentUri"])
        if path not in sys.path:
            sys.path.insert(0, path)


def _check_port_free(host: str, port: int, what: str, option: str) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise StartupError(
                    f"the {what} port {host}:{port} is already in use; stop what uses it or choose "
                    f"another with {option} PORT"
                ) from None
            raise


def _log(message: str) -> None:
    print(f"[local] {message}", file=sys.stderr, flush=True)
