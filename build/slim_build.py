"""What `make build` does to `sam build`'s output before it is deployed: two cold-start fixes.

1. **Bytecode.** SAM's Python builder unpacks wheels and copies sources without compiling them, and
   Lambda's /var/task and /opt are read-only, so without this step every cold start compiles every
   module it imports (pydantic, Powertools, botocore, the vendor SDK) from source and throws the
   result away. Each artifact is compiled here by the runtime's own Python (3.13, which `sam build`
   already needs), so the interpreter finds a matching `__pycache__/*.cpython-313.pyc` and loads it.
   Third-party packages get `unchecked-hash` bytecode (used as is: they are never edited in place);
   our code (the `notifier` package and each `app.py`) gets `checked-hash` bytecode, which Python
   uses only while it matches the source, so a file edited after the build (in the Lambda console,
   say) runs as edited.
2. **botocore's data.** The layer ships botocore (X-Ray's SDK needs it, and it comes before the
   runtime's), with models for some 440 services. Creating the first client lists every service
   folder twice (about 18 ms) and reads the 1.2 MB `endpoints.json` (about 18 ms more), whichever
   services the functions use. The layer keeps the data of `SERVICES` (what `notifier.platform.clients`
   creates, what the SES and SMS providers create, plus STS, which botocore's own credential
   providers may call) and an `endpoints.json` with the same partitions and regions and only those
   services. botocore still treats the data as its own (same place, same contents for what is
   kept), so endpoints resolve exactly as before; a client for any other service fails with
   botocore's UnknownServiceError.

    python -m build.slim_build .aws-sam/build --python /path/to/python3.13

`bench.cold_start` prunes the same way (`slim_botocore`), so the cold starts it measures are the
deployed package's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SERVICES = (
    "apigateway",
    "apigatewaymanagementapi",
    "dynamodb",
    "pinpoint-sms-voice-v2",
    "scheduler",
    "secretsmanager",
    "sesv2",
    "sns",
    "sqs",
    "ssm",
    "sts",
)
"""The AWS services whose botocore data the layer keeps (see the module's docstring): those of
`notifier.platform.clients`, and those of the clients the SES and End User Messaging SMS providers
build for themselves (`sesv2`, `pinpoint-sms-voice-v2`)."""

OWN_CODE = ("notifier", "app.py")
"""Top-level names in an artifact that are this project's code (checked-hash bytecode)."""


def prune_botocore_data(data: Path, keep: tuple[str, ...] = SERVICES) -> int:
    """Remove from botocore's `data` folder every service not in `keep`, and those services'
    entries from `endpoints.json`; the number of service folders removed."""
    missing = [service for service in keep if not (data / service).is_dir()]
    if missing:
        raise FileNotFoundError(f"botocore has no data for {missing} in {data}")
    removed = 0
    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in keep:
            shutil.rmtree(entry)
            removed += 1
    write_kept_endpoints(data / "endpoints.json", data / "endpoints.json", keep)
    return removed


def write_kept_endpoints(source: Path, target: Path, keep: tuple[str, ...] = SERVICES) -> None:
    """`source` (an `endpoints.json`) written to `target` with every partition and region, and only
    the services in `keep`."""
    endpoints: dict[str, Any] = json.loads(source.read_text())
    partitions = [
        {**partition, "services": {k: v for k, v in partition["services"].items() if k in keep}}
        for partition in endpoints["partitions"]
    ]
    target.write_text(json.dumps({**endpoints, "partitions": partitions}))


def slim_botocore(installed: Path, into: Path, keep: tuple[str, ...] = SERVICES) -> Path:
    """A botocore package at `into` made of links to the `installed` one, with pruned data: what
    the layer ships, without copying 28 MB (for the benchmarks)."""
    into.mkdir()
    for entry in installed.iterdir():
        if entry.name != "data":
            (into / entry.name).symlink_to(entry.resolve())
    data = into / "data"
    data.mkdir()
    for entry in (installed / "data").iterdir():
        if entry.name == "endpoints.json":
            write_kept_endpoints(entry, data / entry.name, keep)
        elif entry.is_file() or entry.name in keep:
            (data / entry.name).symlink_to(entry.resolve())
    return into


def compile_artifact(artifact: Path, python: str) -> None:
    """Bytecode for every module of one built function or layer, by `python` (the runtime's)."""
    root = artifact / "python" if (artifact / "python").is_dir() else artifact  # a layer: python/
    own = [root / name for name in OWN_CODE if (root / name).exists()]
    third_party = [entry for entry in root.iterdir() if entry not in own and not entry.name.endswith("-info")]
    # Next to each module, where Lambda's interpreter looks: never under a PYTHONPYCACHEPREFIX of the
    # caller's (make sets one for its own environments).
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPYCACHEPREFIX"}
    for paths, mode in ((third_party, "unchecked-hash"), (own, "checked-hash")):
        if paths:
            subprocess.run(  # noqa: S603 - the runtime's interpreter on our own build output
                [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", mode, *map(str, paths)],
                check=True,
                env=environment,
            )


def built_resources(template: str) -> set[str]:
    """The logical ids of the built template's resources (its `Resources:` keys, two spaces in)."""
    section = re.search(r"^Resources:\n((?:[ #].*\n|\n)*)", template + "\n", flags=re.MULTILINE)
    return set(re.findall(r"^  ([A-Za-z0-9]+):", section.group(1), flags=re.MULTILINE)) if section else set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", type=Path, help="sam build's output (.aws-sam/build)")
    parser.add_argument("--python", required=True, help="the Lambda runtime's Python (python3.13)")
    args = parser.parse_args()

    built = built_resources((args.build_dir / "template.yaml").read_text())
    artifacts = sorted(p for p in args.build_dir.iterdir() if p.is_dir() and p.name in built)
    for artifact in artifacts:
        data = artifact / "python" / "botocore" / "data"
        if data.is_dir():
            removed = prune_botocore_data(data)
            print(
                f"{artifact.name}: botocore data kept for {', '.join(SERVICES)} ({removed} services removed)"
            )
        compile_artifact(artifact, args.python)
        print(f"{artifact.name}: compiled with {args.python}")
    if not artifacts:
        sys.exit(f"no built functions or layers in {args.build_dir}")


if __name__ == "__main__":
    main()
