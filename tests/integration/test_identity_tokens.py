"""Identity on a real engine: tokens from moto's Cognito, verified as API Gateway would.

The user pool, its `admins` group and the browser client are created in moto's server
from the *synthesized* Data stack, users sign in through the web client's SRP flow, and
the authorizer checks each token before the real handlers see the request
(tests/support/cognito.py, which also states what the emulator does not prove).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import RSAKey
from moto.utilities.utils import load_resource

from tests.integration.conftest import Api, Engines
from tests.support.cognito import CognitoAuthorizer, UserPool


def call(api: Api, authorizer: CognitoAuthorizer, token: str, group: str, method: str, path: str, **event: Any) -> int:
    """Send a request with a bearer token through the authorizer, as API Gateway would."""
    claims = authorizer.claims(token)
    if claims is None:
        return 401  # API Gateway answers; the function is never invoked
    return api.call(group, method, path, sub=None, claims=claims, **event).status


@pytest.fixture(scope="module")
def sandbox_pool(synthesized: Any, engines: Engines) -> Iterator[UserPool]:
    yield UserPool.from_template(synthesized("sandbox"), engines.moto_endpoint)


@pytest.fixture(scope="module")
def authorizer(sandbox_pool: UserPool) -> CognitoAuthorizer:
    return CognitoAuthorizer(sandbox_pool)


def test_the_synthesized_password_policy_refuses_weak_passwords(sandbox_pool: UserPool) -> None:
    email = sandbox_pool.add_user()

    for weak in ("Short-1a", "no-upper-case-42", "NO-LOWER-CASE-42", "No-Digits-At-All", "NoSymbols12345"):
        with pytest.raises(ClientError, match="InvalidPassword"):
            sandbox_pool.client.admin_set_user_password(
                UserPoolId=sandbox_pool.pool_id, Username=email, Password=weak, Permanent=True
            )


def test_web_client_offers_srp_and_refresh_only(sandbox_pool: UserPool) -> None:
    client = sandbox_pool.client.describe_user_pool_client(
        UserPoolId=sandbox_pool.pool_id, ClientId=sandbox_pool.web_client_id
    )["UserPoolClient"]

    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    assert "ClientSecret" not in client


def test_a_signed_in_users_token_reaches_only_their_own_documents(
    api: Api, sandbox_pool: UserPool, authorizer: CognitoAuthorizer
) -> None:
    # Given: two users signed in through the web client
    alice, bob = (sandbox_pool.id_token(sandbox_pool.add_user()) for _ in range(2))
    body = {"name": "a.pdf", "contentType": "application/pdf", "size": 5}

    # When: Alice creates a document; each of them reads it
    created = api.call("create", "POST", "/documents", sub=None, claims=authorizer.claims(alice), body=body)
    path = f"/documents/{created.body['document']['id']}"

    # Then: the document is in Alice's partition, keyed by her token's sub, and only hers
    assert created.status == 201
    assert created.body["document"]["owner"] == jwt.decode(alice, authorizer.keys).claims["sub"]
    assert call(api, authorizer, alice, "read", "GET", path) == 200
    assert call(api, authorizer, bob, "read", "GET", path) == 404


def test_admins_group_from_the_token_opens_the_admin_feed_and_nothing_else_does(
    api: Api, sandbox_pool: UserPool, authorizer: CognitoAuthorizer
) -> None:
    # Given: an administrator who is in a second group too (the claim then lists both)
    sandbox_pool.client.create_group(UserPoolId=sandbox_pool.pool_id, GroupName="reviewers")
    admin = sandbox_pool.id_token(sandbox_pool.add_user(groups=("reviewers", "admins")))
    member = sandbox_pool.id_token(sandbox_pool.add_user(groups=("reviewers",)))

    assert sorted(authorizer.claims(admin)["cognito:groups"].split(",")) == ["admins", "reviewers"]  # type: ignore[index]
    assert call(api, authorizer, admin, "admin", "GET", "/admin/recent") == 200
    assert call(api, authorizer, member, "admin", "GET", "/admin/recent") == 403


def test_forged_expired_or_foreign_tokens_never_reach_a_function(
    api: Api, sandbox_pool: UserPool, authorizer: CognitoAuthorizer, synthesized: Any, engines: Engines
) -> None:
    genuine = sandbox_pool.id_token(sandbox_pool.add_user())
    header, payload, signature = genuine.split(".")
    claims = jwt.decode(genuine, authorizer.keys).claims
    other_pool = UserPool.from_template(synthesized("sandbox"), engines.moto_endpoint)
    foreign = other_pool.id_token(other_pool.add_user())
    access_token = sandbox_pool.sign_in(sandbox_pool.add_user())["AuthenticationResult"]["AccessToken"]
    forged_admin = jwt.encode(
        {"alg": "RS256", "kid": "dummy"},
        {**claims, "cognito:groups": ["admins"]},
        RSAKey.generate_key(2048),
    )

    rejected = {
        "tampered payload": f"{header}.{payload[:-4]}AAAA.{signature}",
        "signed by another key": forged_admin,
        "expired": _resign_expired(claims),
        "another pool's token": foreign,
        "an access token": access_token,
        "not a JWT": "Bearer nonsense",
    }
    for what, token in rejected.items():
        assert authorizer.claims(token) is None, what
        assert call(api, authorizer, token, "admin", "GET", "/admin/recent") == 401, what


def _resign_expired(claims: dict[str, Any]) -> str:
    """The same claims, expired a minute ago, signed with moto's own pool key (shipped in
    the moto package): a token whose only defect is its expiry."""
    pool_key = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, {**claims, "exp": int(time.time()) - 60}, pool_key)


def test_prod_pool_requires_mfa_before_any_token_is_issued(synthesized: Any, engines: Engines) -> None:
    prod = UserPool.from_template(synthesized("prod"), engines.moto_endpoint)

    reply = prod.sign_in(prod.add_user())

    assert reply.get("ChallengeName") == "MFA_SETUP"
    assert "AuthenticationResult" not in reply
