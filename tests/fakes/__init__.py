"""Loopback fakes of the vendors' HTTP APIs (SendGrid, Twilio, FCM), for tests and benchmarks.

Each answers the way the vendor does, checks requests against the vendor's own API description, and
fails the test on leaving its `with` block if a request broke it. See `_server.FakeServer` for what
they share.
"""

from tests.fakes._server import FakeServer, RecordedRequest
from tests.fakes.fcm import FcmFake
from tests.fakes.sendgrid import SendGridFake
from tests.fakes.twilio import TwilioFake

__all__ = ["FakeServer", "FcmFake", "RecordedRequest", "SendGridFake", "TwilioFake"]
