"""The local stack's name is one CloudFormation would take: it names the stack's resources."""

from __future__ import annotations

import pytest

from devstack.__main__ import main


@pytest.mark.parametrize("name", ["1notifier", "notifier_dev", "notifier.dev", "n" * 129, "-notifier"])
def test_a_name_cloudformation_would_refuse_stops_the_stack_before_it_starts(name, capsys):
    assert main([f"--stack-name={name}"]) == 2

    error = capsys.readouterr().err
    assert f"--stack-name {name!r} is not a stack name" in error
