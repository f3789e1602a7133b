"""Identity on a real engine: tokens from moto's Cognito, verified as API Gateway would.

The user pool, its `admins` group and the browser client are created in moto's server
from the *synthesized* Data stack (the same properties CloudFormation would get), users
sign in through the web client's SRP flow, and `CognitoAuthorizer` does what API
Gateway's Cognito authorizer does before a request reaches a function: verify the id
token's RS256 signature against the pool's JWKS (fetched over HTTP), its issuer,
audience, `token_use` and expiry, then hand the claims on as strings. Only then do the
real handlers see the request.

Limits of the emulator, stated so no test claims more than it proves: moto drives the
SRP message flow but does not check the SRP proof (so a wrong password is not tested
through SRP), and it does not model threat protection.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from moto.utilities.utils import load_resource

from tests.conftest import Synthesized
from tests.integration.conftest import REGION, Api, Engines

STRONG_PASSWORD = "Correct-Horse-42-battery"


def resource_properties(synth: Synthesized, resource_type: str) -> dict[str, Any]:
    [properties] = [
        resource["Properties"]
        for resource in synth.templates["Data"]["Resources"].values()
        if resource["Type"] == resource_type
    ]
    return dict(properties)


@dataclass
class UserPool:
    """A user pool in moto's server, built from a synthesized template."""

    client: Any
    pool_id: str
    web_client_id: str
    endpoint: str

    @classmethod
    def from_template(cls, synth: Synthesized, endpoint: str) -> UserPool:
        cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=REGION)
        pool = resource_properties(synth, "AWS::Cognito::UserPool")
        enabled_mfas = pool.pop("EnabledMfas", [])  # CloudFormation-only: the API sets it separately
        # Every other property goes to the API as it is: botocore refuses one it does not know.
        pool_id = cognito.create_user_pool(PoolName=f"folio-{uuid.uuid4().hex[:8]}", **pool)["UserPool"]["Id"]
        if enabled_mfas:
            cognito.set_user_pool_mfa_config(
                UserPoolId=pool_id,
                SoftwareTokenMfaConfiguration={"Enabled": "SOFTWARE_TOKEN_MFA" in enabled_mfas},
                MfaConfiguration=pool["MfaConfiguration"],
            )
        group = resource_properties(synth, "AWS::Cognito::UserPoolGroup")
        cognito.create_group(UserPoolId=pool_id, GroupName=group["GroupName"], Description=group["Description"])
        web = resource_properties(synth, "AWS::Cognito::UserPoolClient")
        web.pop("UserPoolId")
        client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="web", **web)["UserPoolClient"][
            "ClientId"
        ]
        return cls(cognito, pool_id, client_id, endpoint)

    def add_user(self, *, groups: tuple[str, ...] = ()) -> str:
        email = f"{uuid.uuid4().hex[:12]}@example.com"
        self.client.admin_create_user(
            UserPoolId=self.pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
        self.client.admin_set_user_password(
            UserPoolId=self.pool_id, Username=email, Password=STRONG_PASSWORD, Permanent=True
        )
        for group in groups:
            self.client.admin_add_user_to_group(UserPoolId=self.pool_id, Username=email, GroupName=group)
        return email

    def sign_in(self, email: str) -> dict[str, Any]:
        """The browser app's SRP sign-in through the web client; the final reply."""
        challenge = self.client.initiate_auth(
            ClientId=self.web_client_id,
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": email, "SRP_A": uuid.uuid4().hex * 4},
        )
        assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
        parameters = challenge["ChallengeParameters"]
        reply: dict[str, Any] = self.client.respond_to_auth_challenge(
            ClientId=self.web_client_id,
            ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses={
                "USERNAME": parameters["USERNAME"],
                "PASSWORD_CLAIM_SECRET_BLOCK": parameters["SECRET_BLOCK"],
                "PASSWORD_CLAIM_SIGNATURE": uuid.uuid4().hex,
                "TIMESTAMP": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
            },
        )
        return reply

    def id_token(self, email: str) -> str:
        return str(self.sign_in(email)["AuthenticationResult"]["IdToken"])


class CognitoAuthorizer:
    """What API Gateway's COGNITO_USER_POOLS authorizer checks, and what it passes on."""

    def __init__(self, pool: UserPool) -> None:
        jwks = requests.get(f"{pool.endpoint}/{pool.pool_id}/.well-known/jwks.json", timeout=5).json()
        self.keys = KeySet.import_key_set(jwks)
        self.claims_rules = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": f"https://cognito-idp.{REGION}.amazonaws.com/{pool.pool_id}"},
            aud={"essential": True, "value": pool.web_client_id},
            token_use={"essential": True, "value": "id"},
            exp={"essential": True},
        )

    def claims(self, token: str) -> dict[str, str] | None:
        """The claims as the function receives them (every value a string), or None: a 401."""
        try:
            verified = jwt.decode(token, self.keys, algorithms=["RS256"])
            self.claims_rules.validate(verified.claims)
        except (JoseError, ValueError):
            return None
        return {
            name: ",".join(value) if isinstance(value, list) else str(value) for name, value in verified.claims.items()
        }


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
