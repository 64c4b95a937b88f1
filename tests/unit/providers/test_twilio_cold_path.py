"""The SMS provider's cold path: sending one message loads none of the SDK's generated Api resources
(`client.messages.create` would import `twilio.rest.api.v2010.account` and its ~30 resource
modules; see notifier.providers.twilio_sms)."""

from __future__ import annotations

import json
import subprocess
import sys

from devstack.template import REPO_ROOT

CHILD = """
import json, sys
from bench import _stubs
_stubs.install()
from notifier.models.channels import Priority
from notifier.models.envelope import SmsMessage
from notifier.providers import Delivery
from notifier.providers.twilio_sms import TwilioConfig, TwilioProvider
config = TwilioConfig(account_sid="AC" + "0" * 32, auth_token="t", from_number="+14155550100")
provider = TwilioProvider(config)
sid = provider.send(Delivery("n-1", "+14155550101", SmsMessage(text="hi"), Priority.STANDARD))
print(json.dumps({
    "sid": sid,
    "calls": dict(_stubs.calls),
    "generated": sorted(name for name in sys.modules if name.startswith("twilio.rest.api")),
}))
"""


def test_sending_one_sms_does_not_import_the_sdks_generated_api_resources():
    """In a fresh interpreter, Twilio answered in-process by bench/_stubs.py (requests' last step
    before the socket), so the SDK's whole request path runs and nothing reaches the network."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": f"{REPO_ROOT / 'layers/common'}:{REPO_ROOT}", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["sid"].startswith("SM")
    assert answer["calls"] == {"vendor.twilio": 1}
    assert answer["generated"] == []  # not twilio.rest.api.v2010.account, nor anything of the Api domain
