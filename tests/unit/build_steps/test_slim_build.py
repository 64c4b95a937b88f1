"""build.slim_build: what `make build` does to sam build's output (botocore's data, bytecode)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import botocore
import pytest

from build import slim_build
from notifier.platform import clients

BOTOCORE = Path(botocore.__file__).parent
DATA = BOTOCORE / "data"


def test_every_client_the_functions_create_is_for_a_service_the_build_keeps(monkeypatch):
    created = []

    class Session:
        def create_client(self, service: str, **_: Any) -> str:
            created.append(service)
            return service

    clients.reset_clients()
    monkeypatch.setattr(clients, "_session", cache(Session))
    factories = [getattr(clients, name) for name in dir(clients) if name.endswith("_client")]
    for factory in factories:
        # The @connections API has no endpoint of its own: each WebSocket API stage is one.
        factory(*(["https://api.example/stage"] if factory is clients.connections_client else []))
    clients.reset_clients()
    assert len(created) == len(factories) >= 5
    assert set(created) <= set(slim_build.SERVICES)


def test_pruning_keeps_the_services_and_every_partition_and_region(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("endpoints.json", "partitions.json", "_retry.json", "sdk-default-configuration.json"):
        shutil.copy(DATA / name, data / name)
    for service in ("sns", "s3", "ec2"):
        shutil.copytree(DATA / service, data / service)

    removed = slim_build.prune_botocore_data(data, keep=("sns",))

    assert removed == 2
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == ["sns"]
    before = json.loads((DATA / "endpoints.json").read_text())
    after = json.loads((data / "endpoints.json").read_text())
    assert [p["partition"] for p in after["partitions"]] == [p["partition"] for p in before["partitions"]]
    for old, new in zip(before["partitions"], after["partitions"], strict=True):
        assert new["regions"] == old["regions"]
        assert new["defaults"] == old["defaults"]
        assert new["services"] == {k: v for k, v in old["services"].items() if k == "sns"}


def test_pruning_refuses_to_drop_a_service_the_functions_need(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA / "sns", data / "sns")
    with pytest.raises(FileNotFoundError, match="dynamodb"):
        slim_build.prune_botocore_data(data, keep=("sns", "dynamodb"))
    assert (data / "sns").is_dir()  # nothing removed


SLIM_CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import botocore, botocore.session
    from botocore.exceptions import UnknownServiceError
    from notifier.platform import clients
    assert botocore.__file__.startswith(sys.argv[1]), botocore.__file__
    endpoints = {}
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"):
        session = botocore.session.get_session()
        for service in json.loads(sys.argv[2]):
            client = session.create_client(service, region_name=region)
            endpoints[f"{service}@{region}"] = client.meta.endpoint_url
    clients.reset_clients()
    names = [n for n in dir(clients) if n.endswith("_client")]
    arguments = {"connections_client": ["https://api.example/stage"]}  # each WebSocket stage its own
    built = {n: getattr(clients, n)(*arguments.get(n, [])).meta.service_model.service_name for n in names}
    try:
        botocore.session.get_session().create_client("s3", region_name="us-east-1")
        unknown = None
    except UnknownServiceError as exc:
        unknown = type(exc).__name__
    # The providers' own clients (not platform.clients'): SES's as its provider builds it, and
    # End User Messaging SMS's.
    from notifier.providers.ses_email import SesConfig, SesProvider
    ses = SesProvider(SesConfig(from_email="noreply@example.com", region="eu-west-1")).client
    sms = botocore.session.get_session().create_client("pinpoint-sms-voice-v2", region_name="eu-west-1")
    providers = {
        client.meta.service_model.service_name: [
            client.meta.endpoint_url,
            client.meta.service_model.operation_model(operation).http["requestUri"],
        ]
        for client, operation in ((ses, "SendEmail"), (sms, "SendTextMessage"))
    }
    print(json.dumps({"endpoints": endpoints, "built": built, "s3": unknown, "providers": providers}))
    """
)


def test_clients_resolve_the_same_endpoints_with_the_slim_botocore(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    slim_build.slim_botocore(BOTOCORE, site / "botocore")
    environment = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
    environment["PYTHONPATH"] = str(Path(clients.__file__).parents[2])

    def run(path: Path) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", SLIM_CHILD, str(path), json.dumps(slim_build.SERVICES)],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)

    slim, full = run(site), run(BOTOCORE.parent)
    assert slim["endpoints"] == full["endpoints"]
    assert slim["endpoints"]["sns@cn-north-1"] == "https://sns.cn-north-1.amazonaws.com.cn"
    assert slim["built"] == full["built"]
    # The SES and End User Messaging SMS providers' clients, in every partition.
    for region, suffix in (
        ("us-east-1", "amazonaws.com"),
        ("eu-west-1", "amazonaws.com"),
        ("cn-north-1", "amazonaws.com.cn"),
        ("us-gov-west-1", "amazonaws.com"),
    ):
        assert slim["endpoints"][f"sesv2@{region}"] == f"https://email.{region}.{suffix}"
        assert slim["endpoints"][f"pinpoint-sms-voice-v2@{region}"] == f"https://sms-voice.{region}.{suffix}"
    assert slim["providers"] == full["providers"]
    assert slim["providers"] == {
        "sesv2": ["https://email.eu-west-1.amazonaws.com", "/v2/email/outbound-emails"],
        "pinpoint-sms-voice-v2": ["https://sms-voice.eu-west-1.amazonaws.com", "/"],
    }
    assert slim["s3"] == "UnknownServiceError"
    assert full["s3"] is None


def _pyc_flags(pyc: Path) -> int:
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def test_an_artifact_gets_bytecode_checked_for_our_code_and_unchecked_for_the_rest(tmp_path):
    layer = tmp_path / "CommonLayer" / "python"
    (layer / "notifier").mkdir(parents=True)
    (layer / "notifier" / "__init__.py").write_text("X = 1\n")
    (layer / "somelib").mkdir()
    (layer / "somelib" / "__init__.py").write_text("Y = 2\n")
    (layer / "somelib-1.0.dist-info").mkdir()
    function = tmp_path / "PublishFunction"
    function.mkdir()
    (function / "app.py").write_text("Z = 3\n")
    (function / "requirements.txt").write_text("\n")

    slim_build.compile_artifact(tmp_path / "CommonLayer", sys.executable)
    slim_build.compile_artifact(function, sys.executable)

    tag = sys.implementation.cache_tag
    checked, unchecked = 0b11, 0b01  # PEP 552: hash-based, check_source
    assert _pyc_flags(layer / "notifier" / "__pycache__" / f"__init__.{tag}.pyc") == checked
    assert _pyc_flags(function / "__pycache__" / f"app.{tag}.pyc") == checked
    assert _pyc_flags(layer / "somelib" / "__pycache__" / f"__init__.{tag}.pyc") == unchecked


def test_main_slims_every_artifact_the_built_template_names(tmp_path, monkeypatch, capsys):
    build = tmp_path / "build"
    data = build / "CommonLayer" / "python" / "botocore" / "data"
    data.mkdir(parents=True)
    shutil.copy(DATA / "endpoints.json", data / "endpoints.json")
    for service in (*slim_build.SERVICES, "s3"):
        (data / service).mkdir()
    (build / "PublishFunction").mkdir()
    (build / "PublishFunction" / "app.py").write_text("A = 1\n")
    (build / "Stale").mkdir()  # not in the template: left alone
    (build / "Stale" / "old.py").write_text("B = 1\n")
    (build / "template.yaml").write_text("Resources:\n  CommonLayer: {}\n  PublishFunction: {}\n")
    monkeypatch.setattr(sys, "argv", ["slim_build", str(build), "--python", sys.executable])

    slim_build.main()

    assert not (data / "s3").exists()
    assert all((data / service).is_dir() for service in slim_build.SERVICES)
    assert list((build / "PublishFunction" / "__pycache__").glob("app.*.pyc"))
    assert not (build / "Stale" / "__pycache__").exists()
    assert "1 services removed" in capsys.readouterr().out


def test_the_artifact_checks_fail_a_module_without_bytecode_and_an_untrimmed_botocore(tmp_path):
    from bench import artifacts  # noqa: PLC0415 - bench is not part of the functions

    root = tmp_path / "python"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("A = 1\n")
    (root / "pkg" / "late.py").write_text("B = 1\n")
    slim_build.compile_artifact(tmp_path, sys.executable)
    tag = sys.implementation.cache_tag
    assert artifacts.bytecode_check("layer", root, tag).passed
    (root / "pkg" / "new.py").write_text("C = 1\n")  # added after the build's compile step
    failed = artifacts.bytecode_check("layer", root, tag)
    assert not failed.passed
    assert "2 of 3 modules; none for pkg/new.py" in failed.detail
    assert not artifacts.bytecode_check("layer", root, "cpython-399").passed

    data = root / "botocore" / "data"
    for service in slim_build.SERVICES:
        (data / service).mkdir(parents=True)
    assert artifacts.botocore_data_check(root).passed
    (data / "s3").mkdir()
    assert not artifacts.botocore_data_check(root).passed


def test_the_runtime_bytecode_tag_comes_from_the_template():
    from bench import artifacts  # noqa: PLC0415

    assert artifacts.runtime_cache_tag() == "cpython-313"
