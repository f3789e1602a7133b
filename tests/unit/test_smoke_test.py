"""tools/smoke_test.py's parts that no engine exercises: the password it makes for the pool's
policy, and a sign-in that Cognito answers with a challenge instead of tokens (a pool that
requires MFA; moto's admin sign-in never challenges a new user)."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest

from tools import smoke_test
from tools.smoke_test import Run, Settings, StepFailed

SETTINGS = Settings(
    api_url="https://abc123.execute-api.eu-west-1.amazonaws.com/v1/",
    user_pool_id="eu-west-1_AbC123xyz",
    client_id="smokeclient",
    region="eu-west-1",
    role_arn=None,
)


def test_every_password_meets_the_pools_policy_and_none_repeats() -> None:
    passwords = [smoke_test.strong_password() for _ in range(500)]

    for password in passwords:
        assert len(password) >= 12
        for kind in (string.ascii_lowercase, string.ascii_uppercase, string.digits, smoke_test.PASSWORD_SYMBOLS):
            assert any(c in kind for c in password), password
        # Cognito's accepted symbols: ^ $ * . [ ] { } ( ) ? " ! @ # % & / \ , > < ' : ; | _ ~ ` = + -
        assert re.fullmatch(r"[A-Za-z0-9^$*.\[\]{}()?\"!@#%&/\\,><':;|_~`=+-]+", password), password
    assert len(set(passwords)) == len(passwords)


class ChallengingCognito:
    """Answers an admin sign-in as a pool that requires MFA answers a user without a device."""

    def admin_initiate_auth(self, **request: Any) -> dict[str, Any]:
        return {"ChallengeName": "MFA_SETUP", "Session": "session", "ChallengeParameters": {}}


def test_a_challenge_instead_of_tokens_fails_the_sign_in_and_says_why() -> None:
    run = Run(SETTINGS, ChallengingCognito(), print)

    with pytest.raises(StepFailed, match=r"'MFA_SETUP' instead of tokens.*MFA is optional"):
        run.sign_in("a-password")
    assert run.token is None
