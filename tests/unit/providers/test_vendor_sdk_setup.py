"""What the providers build of their vendor's SDK differently from the SDK's own defaults, to start
faster, is still what the SDK would build."""

from __future__ import annotations

import pytest
from firebase_admin import _http_client, credentials, messaging

from devstack.fakes.fcm import service_account_key
from notifier.providers.fcm_push import (
    FIREBASE_SCOPES,
    FcmConfig,
    FcmProvider,
    ServiceAccountCredential,
    _MessagingService,
)


@pytest.fixture(scope="module")
def service_account() -> dict[str, str]:
    return service_account_key("notifier-test")


def test_the_fcm_messaging_service_is_firebase_admins_with_its_async_client_built_on_first_use(
    service_account,
):
    provider = FcmProvider(FcmConfig(service_account=service_account, timeout_seconds=3.0))
    service = messaging._get_messaging_service(provider.app)
    upstream = messaging._MessagingService(provider.app)  # firebase-admin's own, for the same app
    try:
        assert isinstance(service, _MessagingService)
        assert "_async_client" not in vars(service)
        assert set(vars(service)) - {"_timeout"} == set(vars(upstream)) - {"_async_client"}
        for name in ("_project_id", "_fcm_url", "_fcm_topic_url", "_fcm_headers", "_credential"):
            assert getattr(service, name) == getattr(upstream, name), name
        assert service._client.timeout == upstream._client.timeout == 3.0
        assert service._client.session.adapters.keys() == upstream._client.session.adapters.keys()

        built = service._async_client

        assert isinstance(built, _http_client.HttpxAsyncClient)
        assert service._async_client is built
        assert built.timeout == upstream._async_client.timeout
        assert built.async_client.headers == upstream._async_client.async_client.headers
    finally:
        provider.close()
        upstream.close()


def test_closing_the_fcm_provider_does_not_build_the_async_client_it_never_used(service_account):
    provider = FcmProvider(FcmConfig(service_account=service_account))
    service = messaging._get_messaging_service(provider.app)

    provider.close()

    assert "_async_client" not in vars(service)


def test_the_fcm_credential_is_the_one_firebase_admins_certificate_builds(service_account):
    ours = ServiceAccountCredential(service_account)
    upstream = credentials.Certificate(service_account)  # OpenSSL's full key check, the slow way
    built, expected = ours.get_credential(), upstream.get_credential()

    assert type(built) is type(expected)
    assert tuple(credentials._scopes) == FIREBASE_SCOPES
    # Every attribute, but the signer (compared below) and a per-instance refresh worker.
    per_instance = {"_signer", "_refresh_worker"}
    assert {k: v for k, v in vars(built).items() if k not in per_instance} == {
        k: v for k, v in vars(expected).items() if k not in per_instance
    }
    assert built._token_uri == service_account["token_uri"]
    assert ours.project_id == upstream.project_id == "notifier-test"
    assert built.signer.key_id == expected.signer.key_id == service_account["private_key_id"]
    # RSA PKCS #1 v1.5 signatures are deterministic: the same key signs alike.
    assert built.signer.sign(b"grant") == expected.signer.sign(b"grant")


def test_the_fcm_app_takes_its_project_from_the_service_account(service_account):
    provider = FcmProvider(FcmConfig(service_account=service_account))
    try:
        assert provider.app.project_id == "notifier-test"
        assert isinstance(provider.app.credential, ServiceAccountCredential)
    finally:
        provider.close()


def test_the_sendgrid_client_mirrors_the_python_http_client_it_was_written_against():
    """notifier.providers.sendgrid_email._SharedOpenerClient answers the verbs with its own copy of
    python_http_client 3.3.7's request function (see that module's docstring): an upgrade of the
    library must be read against it before this pin moves."""
    import python_http_client  # noqa: PLC0415

    assert python_http_client.__version__ == "3.3.7"
