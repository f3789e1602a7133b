"""Cognito on moto's server, and API Gateway's Cognito authorizer in front of the handlers.

`UserPool` builds a user pool in moto's server from a *synthesized* Data stack (the same
properties CloudFormation would get: password policy, e-mail as the user name, MFA, the
`admins` group, the browser client); users sign in through the web client's SRP flow.

`CognitoAuthorizer` does what API Gateway's COGNITO_USER_POOLS authorizer does before a
request reaches a function: verify the id token's RS256 signature against the pool's JWKS
(fetched over HTTP), its issuer, `token_use`, expiry and audience (a client of the pool),
then hand the claims on as strings. `tests/support/gateway.py` takes it as its authorizer.

Limits of the emulator, stated so no test claims more than it proves: moto drives the SRP
message flow but does not check the SRP proof, does not model threat protection, and does not
refuse an auth flow that the client does not allow (ExplicitAuthFlows).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tests.support.loopback import REGION

if TYPE_CHECKING:
    from tests.conftest import Synthesized

STRONG_PASSWORD = "Correct-Horse-42-battery"


def resource_properties(synth: Synthesized, resource_type: str, logical_id_prefix: str = "") -> dict[str, Any]:
    """The one resource of `resource_type` in the Data stack (whose logical id starts with
    `logical_id_prefix`, where there are several: the pool has a web and a smoke-test client)."""
    [properties] = [
        resource["Properties"]
        for logical_id, resource in synth.templates["Data"]["Resources"].items()
        if resource["Type"] == resource_type and logical_id.startswith(logical_id_prefix)
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
        web = resource_properties(synth, "AWS::Cognito::UserPoolClient", "UsersUserPoolWebClient")
        web.pop("UserPoolId")
        client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="web", **web)["UserPoolClient"][
            "ClientId"
        ]
        return cls(cognito, pool_id, client_id, endpoint)

    def add_client(self, name: str, auth_flows: Sequence[str]) -> str:
        """Another app client of the pool (no secret), allowing `auth_flows`; its id."""
        created = self.client.create_user_pool_client(
            UserPoolId=self.pool_id, ClientName=name, GenerateSecret=False, ExplicitAuthFlows=list(auth_flows)
        )
        return str(created["UserPoolClient"]["ClientId"])

    def usernames(self) -> list[str]:
        """Every user's e-mail (the pool signs in by e-mail), or user name where it has none."""
        found = []
        for page in self.client.get_paginator("list_users").paginate(UserPoolId=self.pool_id):
            for user in page["Users"]:
                attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
                found.append(attributes.get("email", user["Username"]))
        return found

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
    """What API Gateway's COGNITO_USER_POOLS authorizer checks, and what it passes on.

    The authorizer names user pools, not clients: an id token issued through any client of the
    pool passes (`clients`; the web client unless told)."""

    def __init__(self, pool: UserPool, clients: Sequence[str] = ()) -> None:
        jwks = requests.get(f"{pool.endpoint}/{pool.pool_id}/.well-known/jwks.json", timeout=5).json()
        self.keys = KeySet.import_key_set(jwks)
        self.clients = tuple(clients) or (pool.web_client_id,)
        self.claims_rules = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": f"https://cognito-idp.{REGION}.amazonaws.com/{pool.pool_id}"},
            aud={"essential": True, "values": list(self.clients)},
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
