"""What each function and the common layer ship: their size, and whether each holds only its own vendor's SDK.

Measures the `sam build` output (.aws-sam/build/<LogicalId>): the unzipped size (the sum of the
files' sizes, what counts against Lambda's 250 MB limit for a function and its layers together), and
the zipped size (the folder deflated in memory, as `sam deploy` uploads it and Lambda downloads it
on a cold start). MB here are MiB (2^20 bytes), as Lambda's limits are.

The checks, PASS or FAIL each: the publish, in-app and socket functions and the common layer contain
no vendor SDK at all (in-app stores in DynamoDB and posts through API Gateway's @connections with the
layer's boto3); each vendor's consumer contains its own vendor's SDK and no other vendor's (email:
SendGrid; sms: Twilio; push: Firebase Admin and its Google Cloud libraries); each function with the
layer fits in Lambda's 250 MB unzipped; every module of every artifact has its bytecode for the functions'
runtime (cpython-313), and the layer's botocore keeps the data of the services the functions call
and no other (both done by `make build`: build/slim_build.py). A package counts as present when its
top-level folder or module, or its `*.dist-info`, is in the artifact.

Runs `make build` first when .aws-sam/build is missing or older than template.yaml or a file under
functions/ or layers/common/ (unless --no-build). Prints a table and merges `artifact_mb`,
`artifact_zip_mb` ({"publish", "email", "sms", "push", "inapp", "socket", "common_layer"}) and
`artifact_checks` into bench/results.json; exits 1 when a check fails.

    .venv/bin/python -m bench.artifacts [--no-build] [--build-dir .aws-sam/build]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.cold_start import FUNCTIONS
from bench.report import record
from build.slim_build import SERVICES
from devstack.template import REPO_ROOT, load_template

MIB = 1 << 20
LAMBDA_UNZIPPED_LIMIT_MIB = 250  # a function and all its layers, unzipped (262,144,000 bytes)

ARTIFACTS = {**FUNCTIONS, "common_layer": "CommonLayer"}  # results key -> the template's logical id
SOURCES = [REPO_ROOT / "template.yaml", REPO_ROOT / "functions", REPO_ROOT / "layers" / "common"]

VENDOR_SDKS: dict[str, tuple[str, ...]] = {
    "sendgrid": ("sendgrid", "python_http_client"),
    "twilio": ("twilio",),
    "fcm": ("firebase_admin", "google.cloud", "google.api_core", "google.auth", "grpc"),
}
"""Each vendor's SDK and the libraries only it brings, as import paths; the first is the SDK itself,
which its consumer must hold."""
OWN_VENDOR = {
    "publish": None,
    "email": "sendgrid",
    "sms": "twilio",
    "push": "fcm",
    "inapp": None,
    "socket": None,
    "common_layer": None,
}


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"result": "PASS" if self.passed else "FAIL", "detail": self.detail}


# ------------------------------------------------------------------ build


def _files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if not name.endswith(".pyc"):
                yield Path(dirpath, name)


def _newest_source() -> tuple[float, Path]:
    newest = (0.0, REPO_ROOT)
    for source in SOURCES:
        for path in [source] if source.is_file() else _files(source):
            newest = max(newest, (path.stat().st_mtime, path))
    return newest


def ensure_build(build_dir: Path, *, allow_build: bool) -> None:
    """Run `make build` when the build output is missing or older than its sources."""
    marker = build_dir / "template.yaml"  # written by `sam build` once every artifact is built
    missing = [key for key, logical_id in ARTIFACTS.items() if not (build_dir / logical_id).is_dir()]
    built_at = marker.stat().st_mtime if marker.exists() else 0.0
    newest, newest_path = _newest_source()
    if not missing and built_at >= newest:
        return
    reason = (
        f"missing {', '.join(missing)}"
        if missing or not built_at
        else f"older than {newest_path.relative_to(REPO_ROOT)}"
    )
    if not allow_build:
        if missing:
            sys.exit(f"{build_dir}: {reason}; run `make build` (or drop --no-build)")
        print(f"warning: {build_dir} is {reason}; measuring it as it is (--no-build)")
        return
    print(f"{build_dir} is {reason}: running `make build`", flush=True)
    subprocess.run(["make", "build"], cwd=REPO_ROOT, check=True)  # noqa: S607 - make from PATH, as a user would


# ------------------------------------------------------------------ measures


def unzipped_bytes(folder: Path) -> int:
    return sum(path.lstat().st_size for path in _all_files(folder))


def _all_files(folder: Path) -> Iterator[Path]:
    """Every file, as `sam build` left it (including any __pycache__), not following links."""
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                yield path


def zipped_bytes(folder: Path) -> int:
    """The folder as a deflated zip (paths relative to it, as `sam deploy` packages it), in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(_all_files(folder)):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getbuffer().nbytes


def largest_entries(folder: Path, count: int = 3) -> list[tuple[str, int]]:
    """The biggest top-level entries (packages), unzipped."""
    sizes = [
        (entry.name, unzipped_bytes(entry) if entry.is_dir() else entry.lstat().st_size)
        for entry in folder.iterdir()
        if not entry.name.endswith(".dist-info")
    ]
    return sorted(sizes, key=lambda item: -item[1])[:count]


# ------------------------------------------------------------------ checks


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def present_modules(root: Path, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` (import paths) `root` holds, as a package, a module or a distribution."""
    distributions = {
        _normalised(entry.name.split("-")[0]) for entry in root.glob("*.dist-info") if entry.is_dir()
    }
    found = []
    for module in modules:
        path = root.joinpath(*module.split("."))
        as_module = path.with_name(path.name + ".py")
        as_distribution = _normalised(module)
        has_distribution = any(
            d == as_distribution or d.startswith(as_distribution + "_") for d in distributions
        )
        if path.is_dir() or as_module.is_file() or has_distribution:
            found.append(module)
    return found


def vendor_check(key: str, root: Path) -> Check:
    own = OWN_VENDOR[key]
    problems = []
    for vendor, modules in VENDOR_SDKS.items():
        found = present_modules(root, modules)
        if vendor == own:
            if modules[0] not in found:
                problems.append(f"its own SDK {modules[0]} is missing")
        elif found:
            problems.append(f"holds {vendor}'s {', '.join(found)}")
    expected = "no vendor SDK" if own is None else f"only {own}'s SDK ({VENDOR_SDKS[own][0]})"
    return Check(f"{key}: {expected}", not problems, "; ".join(problems) or "as expected")


def bytecode_check(key: str, root: Path, cache_tag: str) -> Check:
    """Every module has its bytecode for the runtime (`make build` compiles it: build/slim_build.py)."""
    sources = [path for path in _files(root) if path.suffix == ".py"]
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{cache_tag}.pyc").is_file()]
    detail = f"{len(sources) - len(missing)} of {len(sources)} modules" + (
        f"; none for {missing[0].relative_to(root)}" if missing else ""
    )
    return Check(f"{key}: {cache_tag} bytecode for every module", not missing, detail)


def botocore_data_check(root: Path) -> Check:
    """The layer's botocore keeps the data of the services the functions call, and no other."""
    data = root / "botocore" / "data"
    services = sorted(entry.name for entry in data.iterdir() if entry.is_dir()) if data.is_dir() else []
    return Check(
        "common_layer: botocore data only for " + ", ".join(SERVICES),
        services == sorted(SERVICES),
        ", ".join(services) if len(services) <= len(SERVICES) + 3 else f"{len(services)} services",
    )


def runtime_cache_tag() -> str:
    """The functions' runtime as a bytecode tag: python3.13 -> cpython-313."""
    runtime = str(load_template()["Globals"]["Function"]["Runtime"])
    return "cpython-" + runtime.removeprefix("python").replace(".", "")


def size_check(key: str, function_bytes: int, layer_bytes: int) -> Check:
    total = (function_bytes + layer_bytes) / MIB
    return Check(
        f"{key} + common_layer within {LAMBDA_UNZIPPED_LIMIT_MIB} MB unzipped",
        total <= LAMBDA_UNZIPPED_LIMIT_MIB,
        f"{total:.1f} MB",
    )


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-build", action="store_true", help="measure .aws-sam/build as it is")
    parser.add_argument("--build-dir", type=Path, default=REPO_ROOT / ".aws-sam" / "build")
    args = parser.parse_args()
    build_dir: Path = args.build_dir
    ensure_build(build_dir, allow_build=not args.no_build)

    unzipped: dict[str, int] = {}
    zipped: dict[str, int] = {}
    checks: list[Check] = []
    cache_tag = runtime_cache_tag()
    print("artifact       unzipped MB  zipped MB  largest packages (unzipped MB)")
    for key, logical_id in ARTIFACTS.items():
        folder = build_dir / logical_id
        unzipped[key] = unzipped_bytes(folder)
        zipped[key] = zipped_bytes(folder)
        root = folder / "python" if key == "common_layer" else folder
        largest = ", ".join(f"{name} {size / MIB:.1f}" for name, size in largest_entries(root))
        checks.append(vendor_check(key, root))
        checks.append(bytecode_check(key, root, cache_tag))
        print(f"{key:13}  {unzipped[key] / MIB:11.3f}  {zipped[key] / MIB:9.3f}  {largest}")
    checks.append(botocore_data_check(build_dir / ARTIFACTS["common_layer"] / "python"))
    for key in FUNCTIONS:
        checks.append(size_check(key, unzipped[key], unzipped["common_layer"]))

    print()
    width = max(len(check.name) for check in checks)
    for check in checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.name:{width}}  {check.detail}")

    record(
        {
            "artifact_mb": {key: round(size / MIB, 3) for key, size in unzipped.items()},
            "artifact_zip_mb": {key: round(size / MIB, 3) for key, size in zipped.items()},
            "artifact_checks": {check.name: check.as_json() for check in checks},
        }
    )
    if not all(check.passed for check in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
