"""Every requirements file is what its lock says, so `sam build` ships the versions the tests run.

`make lock` writes them: each deployment unit's requirements.txt (functions/<name>, layers/<name>) is
its dependency group of uv.lock resolved for the Lambda runtime, requirements/dev.txt is the dev group
resolved for Linux x86_64 and Python 3.11, and requirements/<tool>.txt is compiled from <tool>.in.
These tests derive the same sets a second way, offline (`uv export --frozen --offline`, then each
line's environment marker evaluated here), and fail on any difference: edit pyproject.toml or
requirements/*.in, then run `make lock`; never edit a generated file by hand.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]

# The template's runtime (python3.13, arm64), as environment markers see it.
LAMBDA = {
    "implementation_name": "cpython",
    "implementation_version": "3.13.0",
    "os_name": "posix",
    "platform_machine": "aarch64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.13.0",
    "python_version": "3.13",
    "sys_platform": "linux",
}
DEV = LAMBDA | {
    "implementation_version": "3.11.0",
    "platform_machine": "x86_64",
    "python_full_version": "3.11.0",
    "python_version": "3.11",
}

SHIPPED = sorted(
    path.parent.relative_to(REPO_ROOT).as_posix()
    for pattern in ("functions/*/requirements.txt", "layers/*/requirements.txt")
    for path in REPO_ROOT.glob(pattern)
)
TOOLS = sorted(path.stem for path in (REPO_ROOT / "requirements").glob("*.in"))


def uv(*args: str) -> str:
    """Runs the dev environment's uv (the version the Makefile bootstraps), offline."""
    candidates = [Path(sys.executable).with_name("uv"), REPO_ROOT / ".tools" / "uv" / "bin" / "uv"]
    binary = next((path for path in candidates if path.is_file()), None)
    assert binary is not None, "no uv in the dev environment or .tools/uv: run `make setup`"
    env = os.environ | {"UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": sys.executable}
    done = subprocess.run(
        [str(binary), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"uv {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def locked(group: str, environment: dict[str, str]) -> dict[str, str]:
    """The versions uv.lock gives a dependency group on one platform: {name: version}."""
    exported = uv(
        "export", "--frozen", "--no-hashes", "--no-header", "--no-annotate", "--no-emit-project",
        "--only-group", group,
    )  # fmt: skip
    pins: dict[str, str] = {}
    for line in exported.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            [spec] = requirement.specifier
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def pinned(path: Path) -> dict[str, str]:
    """A plain requirements file as {name: version}; anything but `name==version` lines fails."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        text = line.split("#")[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        specs = list(requirement.specifier)
        assert [spec.operator for spec in specs] == ["=="], f"{path}: not an exact pin: {line!r}"
        assert requirement.marker is None, f"{path}: a marker in a file resolved for one platform: {line!r}"
        pins[canonicalize_name(requirement.name)] = specs[0].version
    return pins


def compiled(path: Path) -> dict[str, set[str]]:
    """A file of `uv pip compile` as {name: its pinned versions} (markers allowed: it may name several)."""
    pins: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        if (text := line.split("#")[0].strip()) and not text.startswith("-"):
            requirement = Requirement(text)
            pins.setdefault(canonicalize_name(requirement.name), set()).update(
                spec.version for spec in requirement.specifier
            )
    return pins


def drift(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    return [
        f"{name}: lock {expected.get(name, '(absent)')}, file {actual.get(name, '(absent)')}"
        for name in sorted(expected.keys() | actual.keys())
        if expected.get(name) != actual.get(name)
    ]


def test_the_lock_is_up_to_date_with_pyproject():
    uv("lock", "--check")


def test_every_deployment_unit_has_a_requirements_file_to_check():
    assert {
        "layers/common",
        "functions/publish",
        "functions/email",
        "functions/sms",
        "functions/push",
        "functions/inapp",
    } <= set(SHIPPED)


@pytest.mark.parametrize("unit", SHIPPED)
def test_a_shipped_requirements_file_is_its_group_of_the_lock_for_the_lambda_runtime(unit):
    kind, name = unit.split("/")
    group = f"{kind.removesuffix('s')}-{name}"  # functions/email -> function-email

    problems = drift(locked(group, LAMBDA), pinned(REPO_ROOT / unit / "requirements.txt"))

    assert not problems, (
        f"{unit}/requirements.txt drifted from uv.lock ({group}); run `make lock`:\n" + "\n".join(problems)
    )


def test_requirements_dev_txt_is_the_dev_group_of_the_lock():
    problems = drift(locked("dev", DEV), pinned(REPO_ROOT / "requirements" / "dev.txt"))

    assert not problems, "requirements/dev.txt drifted from uv.lock; run `make lock`:\n" + "\n".join(problems)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_tool_lock_pins_what_its_in_file_asks_for(tool):
    source = REPO_ROOT / "requirements" / f"{tool}.in"
    lock = REPO_ROOT / "requirements" / f"{tool}.txt"
    wanted = [
        Requirement(text) for line in source.read_text().splitlines() if (text := line.split("#")[0].strip())
    ]
    pins = compiled(lock)

    header = lock.read_text().split("\n\n")[0]
    assert "uv pip compile" in header, f"{lock.name} was not written by uv: run `make lock`"
    assert f"requirements/{tool}.in" in header, f"{lock.name} was not compiled from {source.name}"
    for requirement in wanted:
        versions = pins.get(canonicalize_name(requirement.name), set())
        assert versions, f"{lock.name} lacks {requirement.name}: run `make lock`"
        assert all(requirement.specifier.contains(v, prereleases=True) for v in versions), (
            f"{lock.name} pins {requirement.name} at {sorted(versions)}, {source.name} asks for "
            f"{requirement.specifier}: run `make lock`"
        )


def test_make_lints_cfn_lint_is_the_one_sam_validate_lint_runs():
    """make lint runs cfn-lint once, from the dev environment, in place of `sam validate --lint`, which
    runs the cfn-lint of the SAM CLI's environment: the same check only while the two pins agree."""
    dev = pinned(REPO_ROOT / "requirements" / "dev.txt")
    sam = compiled(REPO_ROOT / "requirements" / "sam.txt")

    in_sam = ", ".join(sorted(sam["cfn-lint"]))
    assert {dev["cfn-lint"]} == sam["cfn-lint"], (
        f"cfn-lint {dev['cfn-lint']} in dev, {in_sam} in the SAM CLI's environment: pin one version in "
        "pyproject.toml and requirements/sam.in, then run `make lock`"
    )
