"""What the providers build of their vendor's SDK differently from the SDK's own defaults, to start
faster, is still what the SDK would build."""

from __future__ import annotations

import pytest
from firebase_admin import _http_client, messaging

from notifier.providers.fcm_push import FcmConfig, FcmProvider, _MessagingService
from tests.fakes.fcm import service_account_key


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
