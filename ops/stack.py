"""A deployed stack as its clients see it: its Outputs, the API's and WebSocket's URLs, and its API key.

    python -m ops.stack --stack notifier                                   # a stack in AWS
    python -m ops.stack --stack notifier --endpoint http://127.0.0.1:4567  # one in MiniStack or LocalStack

prints the stack's status, its API URL, WebSocket URL and API key, for curl or a client. An emulator
(`--endpoint`, or AWS_ENDPOINT_URL) serves every API at `{endpoint}/_aws/execute-api/{api}/{stage}`
instead of the execute-api host names the Outputs give, which lead to AWS; `DeployedStack` gives the
URLs to call there. `tests/deployed` finds its stack with `DeployedStack.find`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from collections.abc import Sequence

_EXECUTE_API = re.compile(r"^(?P<scheme>https|wss)://(?P<api>[a-z0-9]+)\.execute-api\.[^/]+(?P<path>/.*)?$")


EMULATOR_CREDENTIALS: dict[str, Any] = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
"""MiniStack's and LocalStack's: any key is accepted, and none is real."""


class StackNotFoundError(LookupError):
    """No such stack in that region and endpoint, or it is not in a usable state."""


@dataclass(frozen=True)
class DeployedStack:
    name: str
    region: str
    endpoint: str | None
    """An emulator's URL (http://127.0.0.1:4567); None for AWS."""
    status: str
    outputs: dict[str, str]
    session: boto3.Session = field(repr=False, compare=False)

    @classmethod
    def find(
        cls,
        name: str,
        *,
        region: str | None = None,
        endpoint: str | None = None,
        session: boto3.Session | None = None,
    ) -> DeployedStack:
        """The stack `name`, which must exist and be in a *_COMPLETE state. `session`: whose credentials
        to use (boto3's default session's, or an emulator's test ones, by default)."""
        session = session or _session(region, endpoint)
        region = region or session.region_name or ("us-east-1" if endpoint else None)
        if region is None:
            raise StackNotFoundError(f"no region for the stack {name}: set AWS_REGION, or --region")
        cloudformation = session.client("cloudformation", region_name=region, endpoint_url=endpoint or None)
        try:
            [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except (ClientError, BotoCoreError) as exc:
            where = f"{cloudformation.meta.region_name} at {endpoint or 'AWS'}"
            raise StackNotFoundError(f"no stack {name} in {where}: {exc}") from None
        status = stack["StackStatus"]
        if not status.endswith("_COMPLETE") or "ROLLBACK" in status or "DELETE" in status:
            raise StackNotFoundError(f"the stack {name} is {status}")
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        return cls(name, cloudformation.meta.region_name, endpoint or None, status, outputs, session)

    def url(self, output: str) -> str:
        """An Output that is a URL of one of the stack's APIs, where a client reaches it."""
        return self.reachable(self.outputs[output])

    def reachable(self, url: str) -> str:
        """`url` (https:// or wss:// at an execute-api host) as a client reaches it: itself in AWS, the
        emulator's path form (http:// or ws://) there."""
        match = _EXECUTE_API.match(url)
        if self.endpoint is None or match is None:
            return url
        endpoint = self.endpoint.rstrip("/")
        if match["scheme"] == "wss":
            endpoint = re.sub(r"^http", "ws", endpoint)
        return f"{endpoint}/_aws/execute-api/{match['api']}{match['path'] or ''}"

    @property
    def api_url(self) -> str:
        return self.url("ApiUrl")

    @property
    def websocket_url(self) -> str:
        return self.url("WebSocketUrl")

    def api_key(self) -> str | None:
        """The value of the stack's API key; None when the stack takes none (ApiAuthorization)."""
        key_id = self.outputs.get("ApiKeyId")
        if not key_id:
            return None
        return str(self.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"])

    def client(self, service: str) -> Any:
        """A boto3 client of `service` in the stack's region, at its endpoint."""
        return self.session.client(service, region_name=self.region, endpoint_url=self.endpoint)  # type: ignore[call-overload]


def _session(region: str | None, endpoint: str | None) -> boto3.Session:
    """boto3's default session; for an emulator with no credentials configured, its test ones."""
    session = boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
    if endpoint and session.get_credentials() is None:
        session = boto3.Session(**EMULATOR_CREDENTIALS, region_name=session.region_name)
    return session


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default=os.environ.get("NOTIFIER_STACK", "notifier"), help="its name")
    parser.add_argument("--region", default=None, help="AWS_REGION by default")
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), help="an emulator's URL")
    args = parser.parse_args(argv)
    try:
        stack = DeployedStack.find(args.stack, region=args.region, endpoint=args.endpoint)
    except StackNotFoundError as exc:
        print(f"ops.stack: {exc}", file=sys.stderr)
        return 1
    print(f"stack {stack.name} ({stack.status}) in {stack.region} at {stack.endpoint or 'AWS'}")
    print(f"API:       {stack.api_url}")
    print(f"WebSocket: {stack.websocket_url}")
    print(f"API key:   {stack.api_key() or '(none: ApiAuthorization is not API_KEY)'}")
    print(f"docs:      {stack.api_url}/docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
