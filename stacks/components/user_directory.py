"""Cognito: the user pool (who Folio's users are) and the browser app's client."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from stacks import nag

ADMINS_GROUP = "admins"

# Browser sessions: short-lived access and id tokens, a refresh token for at most 30 days.
TOKEN_VALIDITY = cdk.Duration.minutes(60)
REFRESH_TOKEN_VALIDITY = cdk.Duration.days(30)


class UserDirectory(Construct):
    """A PLUS-plan user pool with threat protection enforced, e-mail sign-in, TOTP MFA,
    strong passwords, e-mail-only recovery, deletion protection and RETAIN; an `admins`
    group; a hosted sign-in domain; and a public (secretless) client for the browser app
    that signs in with the authorization-code grant (PKCE) or SRP only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        self_sign_up: bool,
        mfa_required: bool,
        domain_prefix: str,
        callback_urls: Sequence[str],
        logout_urls: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            custom_threat_protection_mode=cognito.CustomThreatProtectionMode.FULL_FUNCTION,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            self_sign_up_enabled=self_sign_up,
            mfa=cognito.Mfa.REQUIRED if mfa_required else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        if not mfa_required:
            nag.acknowledge(self.user_pool, nag.USER_POOL_MFA_OPTIONAL)
        self.admins = cognito.UserPoolGroup(
            self,
            "Admins",
            user_pool=self.user_pool,
            group_name=ADMINS_GROUP,
            description="Folio operators: may read the recent-uploads feed across users",
        )
        self.domain = self.user_pool.add_domain(
            "SignInDomain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix)
        )
        # A browser cannot keep a secret, so the client has none. Cognito verifies a PKCE
        # code_verifier whenever the app sent a code_challenge; the app always sends one.
        self.web_client = self.user_pool.add_client(
            "WebClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),  # plus refresh, which CDK always allows
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=list(callback_urls),
                logout_urls=list(logout_urls),
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            access_token_validity=TOKEN_VALIDITY,
            id_token_validity=TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
        )
        # The post-deploy smoke test (tools/smoke_test.py) signs in its own test user with
        # ADMIN_USER_PASSWORD_AUTH, which needs IAM credentials allowed cognito-idp:AdminInitiateAuth
        # on this pool (only the pipeline's smoke step has them): no browser, no OAuth, no secret.
        self.smoke_test_client = self.user_pool.add_client(
            "SmokeTestClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(admin_user_password=True),
            disable_o_auth=True,
            access_token_validity=TOKEN_VALIDITY,
            id_token_validity=TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
        )
