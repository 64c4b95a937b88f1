"""Loopback fakes of the vendors' HTTP APIs (SendGrid, Twilio, FCM, Amazon SES, AWS End User Messaging
SMS), for tests and benchmarks.

Each answers the way the vendor does, checks requests against the vendor's own API description, and
fails the test on leaving its `with` block if a request broke it. See `_server.FakeServer` for what
they share.
"""

from devstack.fakes._server import FakeServer, RecordedRequest
from devstack.fakes.eum import EumFake
from devstack.fakes.fcm import FcmFake
from devstack.fakes.sendgrid import SendGridFake
from devstack.fakes.ses import SesFake
from devstack.fakes.twilio import TwilioFake

__all__ = ["EumFake", "FakeServer", "FcmFake", "RecordedRequest", "SendGridFake", "SesFake", "TwilioFake"]
