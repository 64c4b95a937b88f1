"""template.yaml as CloudFormation's SAM transform turns it into a stack, by SAM's own translator run in
the SAM CLI's environment (`.tools/sam`, which `make setup` builds): for the template tests."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from typing import Any

import pytest

from devstack.template import REPO_ROOT, TEMPLATE_PATH

SAM_PYTHON = REPO_ROOT / ".tools" / "sam" / "bin" / "python"
TOOLS = REPO_ROOT / "tests" / "tools"


def translate_many(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each case (Parameters and artifact URIs, see sam_translate_many.py) translated."""
    return _run("sam_translate_many.py", stdin=json.dumps(cases), timeout=300)


@cache
def translated() -> dict[str, Any]:
    """The template with its default Parameters, translated once per process."""
    return _run("sam_translate.py", stdin=None, timeout=120)


def _run(tool: str, *, stdin: str | None, timeout: int) -> dict[str, Any]:
    if not SAM_PYTHON.exists():
        pytest.skip("the SAM CLI environment is not set up (make setup)")
    answer = subprocess.run(
        [str(SAM_PYTHON), str(TOOLS / tool), str(TEMPLATE_PATH)],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(answer.stdout)
    return result
