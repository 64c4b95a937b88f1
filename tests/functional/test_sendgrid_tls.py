"""SendGrid over HTTPS: one TLS context per provider, not one per e-mail, and the same verification.

The SDK's own client (python_http_client) builds a new TLS context for every request, loading the
whole CA store each time (about 21 ms of CPU per e-mail: see `notifier.providers.sendgrid_email`). The
provider sends through one context built with it. These tests send through the real SDK request path
to the SendGrid fake serving TLS with a certificate made here, signed by a CA made here, and count the
TLS contexts built (`ssl.SSLContext.__new__`) from before the provider is built to the last answer.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sendgrid import SendGridAPIClient

from devstack.fakes.sendgrid import SendGridFake
from notifier.errors import DeliveryError, TransientDeliveryError
from notifier.models.channels import Priority
from notifier.models.envelope import EmailMessage
from notifier.providers.base import Delivery
from notifier.providers.sendgrid_email import SendGridConfig, SendGridProvider

API_KEY = "SG.tls-test"
CA_NAME = "notifier tests CA"
EMAILS = 5
# OpenSSL's verification results (X509_V_ERR_*), as `SSLCertVerificationError.verify_code` has them.
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
HOSTNAME_MISMATCH = 62


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA made for the test (its certificate in `pem_file`), issuing server certificates."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    pem_file: Path

    def server_context(self, *names: x509.GeneralName) -> ssl.SSLContext:
        """A server-side TLS context with a certificate for `names`, issued by this CA. The
        certificates pass Python 3.13's stricter checks (`VERIFY_X509_STRICT`) too."""
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "notifier tests server")]), key)
            .issuer_name(self.certificate.subject)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        chain = self.pem_file.with_name(f"server-{certificate.serial_number:x}.pem")
        chain.write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain)
        return context


def _builder(subject: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    certificate = (
        _builder(name, key)
        .issuer_name(name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    pem_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    pem_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(key, certificate, pem_file)


@pytest.fixture
def sendgrid_https(ca: CertificateAuthority) -> Iterator[SendGridFake]:
    """The fake at `https://127.0.0.1:PORT`, its certificate for localhost and 127.0.0.1."""
    tls = ca.server_context(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    with SendGridFake(API_KEY, tls=tls) as fake:
        yield fake


@pytest.fixture
def contexts_built(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every TLS context built in this process from now on (any thread), in order."""
    built: list[ssl.SSLContext] = []
    new = ssl.SSLContext.__new__

    def counted(cls: type[ssl.SSLContext], *args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = new(cls, *args, **kwargs)
        built.append(context)
        return context

    monkeypatch.setattr(ssl.SSLContext, "__new__", staticmethod(counted))
    return built


@pytest.fixture
def provider_for() -> Iterator[Callable[..., SendGridProvider]]:
    """Builds providers for the test (and lets go of their threads afterwards)."""
    built: list[SendGridProvider] = []

    def build(
        host: str, *, ca_file: Path | None = None, client: SendGridAPIClient | None = None
    ) -> SendGridProvider:
        config = SendGridConfig(
            api_key=API_KEY,
            from_email="notifications@example.com",
            host=host,
            ca_file=str(ca_file) if ca_file else None,
        )
        built.append(SendGridProvider(config, client=client))
        return built[-1]

    yield build
    for provider in built:
        provider.close()


def deliveries(count: int = EMAILS) -> list[Delivery]:
    message = EmailMessage(subject="Your order", text="It shipped.")
    return [Delivery(f"n-{i}", f"user-{i}@example.com", message, Priority.STANDARD) for i in range(count)]


def received(fake: SendGridFake) -> list[str]:
    return sorted(address for request in fake.requests for address in fake.addresses(request))


def refusal(error: DeliveryError) -> ssl.SSLCertVerificationError:
    """Why the TLS handshake failed, from the SDK's error the provider classified (kept as its context)."""
    assert isinstance(error.__context__, URLError)
    reason = error.__context__.reason
    assert isinstance(reason, ssl.SSLCertVerificationError)
    return reason


def test_a_batch_of_emails_over_https_is_sent_with_one_tls_context_for_the_providers_life(
    sendgrid_https, ca, contexts_built, provider_for
):
    provider = provider_for(sendgrid_https.url, ca_file=ca.pem_file)

    results = provider.send_batch(deliveries())

    assert [r for r in results if isinstance(r, DeliveryError)] == []
    assert received(sendgrid_https) == [d.address for d in deliveries()]
    assert contexts_built == [provider.tls_context]


def test_the_sdks_own_client_builds_a_tls_context_for_every_email(
    sendgrid_https, ca, contexts_built, provider_for, monkeypatch
):
    """What the provider avoids: the same batch through the SDK's plain client (which can only be
    told of the test CA through OpenSSL's environment) builds one context per e-mail."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.pem_file))
    provider = provider_for(sendgrid_https.url, client=SendGridAPIClient(API_KEY, host=sendgrid_https.url))

    results = provider.send_batch(deliveries())

    assert [r for r in results if isinstance(r, DeliveryError)] == []
    assert received(sendgrid_https) == [d.address for d in deliveries()]
    assert len(contexts_built) == EMAILS


def test_a_certificate_for_another_host_name_is_refused_as_a_transient_connection_failure(ca, provider_for):
    tls = ca.server_context(x509.DNSName("api.sendgrid.invalid"))  # issued by the trusted CA
    with SendGridFake(API_KEY, tls=tls) as fake:
        port = urlsplit(fake.url).port
        provider = provider_for(f"https://localhost:{port}", ca_file=ca.pem_file)

        with pytest.raises(TransientDeliveryError, match="connection failed") as raised:
            provider.send(deliveries(1)[0])

        assert refusal(raised.value).verify_code == HOSTNAME_MISMATCH
        assert fake.requests == []


def test_without_a_ca_file_only_the_system_store_is_trusted_so_the_test_ca_is_refused(
    sendgrid_https, provider_for
):
    provider = provider_for(sendgrid_https.url)

    with pytest.raises(TransientDeliveryError, match="connection failed") as raised:
        provider.send(deliveries(1)[0])

    assert refusal(raised.value).verify_code == UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert sendgrid_https.requests == []


def test_the_default_context_verifies_as_pythons_default_does_against_the_system_store(provider_for):
    system = ssl.create_default_context()

    context = provider_for("https://api.sendgrid.com").tls_context

    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.verify_flags == system.verify_flags
    assert context.get_ca_certs() == system.get_ca_certs()


def test_a_ca_file_is_trusted_besides_the_system_store_not_instead_of_it(ca, provider_for):
    system = ssl.create_default_context().get_ca_certs()

    context = provider_for("https://api.sendgrid.com", ca_file=ca.pem_file).tls_context

    assert context is not None
    trusted = context.get_ca_certs()
    assert [c["subject"] for c in trusted if c not in system] == [((("commonName", CA_NAME),),)]
    assert len(trusted) == len(system) + 1
