"""The local stack's API key is one API Gateway would take: 20 to 128 characters."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.stack import DEFAULT_API_KEY, MAX_API_KEY_LENGTH, MIN_API_KEY_LENGTH
from devstack.template import REPO_ROOT


def test_the_default_key_is_one_api_gateway_takes():
    assert MIN_API_KEY_LENGTH <= len(DEFAULT_API_KEY) <= MAX_API_KEY_LENGTH


@pytest.mark.parametrize("key", ["local-dev-key", "k" * 19, "k" * 129])
def test_a_key_api_gateway_would_refuse_stops_the_stack_before_it_starts(key):
    environment = {**os.environ, "LOCAL_API_KEY": key, "LOCAL_EMULATOR": "moto"}

    ended = subprocess.run(
        [sys.executable, "-m", "devstack", "--port", "0", "--ws-port", "0", "--emulator-port", "0"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert ended.returncode == 2
    assert f"LOCAL_API_KEY is {len(key)} characters" in ended.stderr
    assert "20 to 128" in ended.stderr
