"""The composition root's adapters, built from the settings a regional serving stage gives its
functions: downloads signed for the home Region's bucket, and no idempotency table."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from folio.handlers import wiring
from folio.settings import REQUIRED_VARIABLES, Env, SettingsError

HOME = "us-east-1"
REPLICA = "eu-west-1"


@pytest.fixture
def regional_function(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment of a function of a regional serving stage in REPLICA."""
    for name in REQUIRED_VARIABLES:
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv(Env.BUCKET_NAME, "folio-prod-documents-222222222222-us-east-1")
    monkeypatch.setenv(Env.BUCKET_REGION, HOME)
    monkeypatch.setenv(Env.DOCUMENT_PREFIX, "documents/")
    monkeypatch.delenv(Env.IDEMPOTENCY_TABLE_NAME, raising=False)
    monkeypatch.setenv("AWS_REGION", REPLICA)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REPLICA)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    # A real function has no endpoint override (the integration tests point S3 at moto for the session).
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    wiring.settings.cache_clear()
    wiring.storage.cache_clear()
    wiring.idempotency_store.cache_clear()
    yield
    wiring.settings.cache_clear()
    wiring.storage.cache_clear()
    wiring.idempotency_store.cache_clear()


def test_a_download_url_is_signed_for_the_buckets_region_not_the_functions(regional_function: None) -> None:
    url = wiring.storage().download_url("documents/u/d", "a.pdf")["url"]

    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Credential"][0].split("/")[2] == HOME
    assert HOME in urlparse(url).hostname  # type: ignore[operator]


def test_without_an_idempotency_table_only_the_idempotency_store_fails(regional_function: None) -> None:
    assert wiring.settings().idempotency_table_name is None

    with pytest.raises(SettingsError, match=Env.IDEMPOTENCY_TABLE_NAME):
        wiring.idempotency_store()
