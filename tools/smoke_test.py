"""Smoke-test a deployed Folio stage: what the pipeline runs after each deployment of dev.

Steps, each checked by its status (docs/operations.md, "The post-deploy smoke test"):

1. `GET <api>/documents` without a token answers 401 (the Cognito authorizer is in front);
2. a test user made for this run (`folio-smoke-<uuid>@example.com`, a random password that
   meets the pool's policy, set permanent) signs in with ADMIN_USER_PASSWORD_AUTH through
   FOLIO_USER_POOL_CLIENT_ID, which must allow that flow;
3. with the user's id token (the REST API's Cognito authorizer has no OAuth scopes, so it
   takes id tokens): `POST /documents` answers 201, `GET /documents/{id}` 200 with that id,
   `DELETE /documents/{id}` 204 (to the trash), `DELETE /documents/{id}?purge=true` 204, and
   `GET /documents/{id}` then 404;
4. with FOLIO_REGIONAL_API_URLS (the regional serving stages of the same environment): each
   regional API answers 401 without a token, then `GET /documents/{id}` 200 with the home
   Region's token once the table's replica has the document, and 404 once the purge has
   replicated. A replica may trail home by the replication delay, so each regional read is
   retried while it answers the old state (404 before it appears, 200 before the purge arrives),
   for at most REPLICATION_WAIT_SECONDS; any other status fails at once.

The user is always deleted at the end, and a document the run created but did not purge is
purged first, whichever step failed, and also when the run is stopped with SIGTERM (CodeBuild
stopping the build or timing it out). A failed step prints its name, the status and the body
(never a token or the password) and exits 1; a missing or malformed variable exits 2.

Environment (the pipeline's step sets these from the stage's outputs):
  FOLIO_API_URL              the stage's invoke URL, https://<id>.execute-api.<region>.amazonaws.com/v1/
  FOLIO_USER_POOL_ID         the user pool (its Region is the prefix of its id)
  FOLIO_USER_POOL_CLIENT_ID  an app client of that pool that allows ADMIN_USER_PASSWORD_AUTH
  AWS_REGION                 the Region of the caller (AWS STS, when a role is assumed)
  FOLIO_SMOKE_ROLE_ARN       optional: a role in the stage's account to assume for the Cognito
                             calls (Cognito has no resource policies: another account's pool is
                             reachable only through a role in that account)
  FOLIO_REGIONAL_API_URLS    optional: the invoke URLs of the environment's regional serving
                             stages, separated by commas (their Api stacks' ApiUrl outputs)

The credentials (or the role) need exactly cognito-idp:AdminCreateUser, AdminSetUserPassword,
AdminInitiateAuth and AdminDeleteUser on the pool (and sts:AssumeRole on the role, if given).

Only the standard library and boto3: the pipeline's step runs it as `python tools/smoke_test.py`
with nothing of Folio on the path.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import string
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

USER_PREFIX = "folio-smoke-"
USER_DOMAIN = "example.com"  # RFC 2606: never a real mailbox; Cognito is told to send nothing
ADMIN_FLOW = "ADMIN_USER_PASSWORD_AUTH"
TIMEOUT_SECONDS = 30
MAX_BODY_SHOWN = 2000
# What a valid CreateDocument body is (lambda/folio/contracts.py BODY_SCHEMAS): a small PDF.
DOCUMENT = {"name": "folio-smoke-test.pdf", "contentType": "application/pdf", "size": 1024, "tags": ["smoke-test"]}
# The pool's policy (stacks/components/user_directory.py): 12+ characters with a lower-case
# letter, an upper-case letter, a digit and a symbol. Symbols from Cognito's accepted set.
PASSWORD_LENGTH = 32
PASSWORD_SYMBOLS = "-_!@#%^*+=.:"  # noqa: S105 (the symbols a password draws from, not a password)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# How long a regional read may show the state before the last change at home: global tables
# replicate asynchronously, usually within seconds (docs/read-path.md, "Replication lag").
REPLICATION_WAIT_SECONDS = 120.0
REPLICATION_POLL_SECONDS = 2.0

REGION_PATTERN = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
VARIABLES: dict[str, tuple[str, str]] = {
    # name: (pattern it must fully match, what it should look like)
    "FOLIO_USER_POOL_ID": (rf"({REGION_PATTERN})_[0-9A-Za-z]+", "<region>_<id>, e.g. eu-west-1_AbC123xyz"),
    "FOLIO_USER_POOL_CLIENT_ID": (r"[\w+]{1,128}", "an app client id (letters and digits)"),
    "AWS_REGION": (REGION_PATTERN, "a Region name, e.g. eu-west-1"),
}
ROLE_ARN_PATTERN = r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}"


class ConfigError(Exception):
    """A missing or malformed variable: exit 2."""


class StepFailed(Exception):
    """A step's check failed: exit 1."""


class Interrupted(Exception):
    """SIGTERM (CodeBuild stopping the build, or its timeout): the step in progress fails, and the
    clean-up still removes the user and the document."""


def _interrupted(signum: int, frame: object) -> None:
    # A second SIGTERM must not cut the clean-up short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(f"interrupted by signal {signal.Signals(signum).name}")


@dataclass(frozen=True)
class Settings:
    api_url: str  # ends in "/"
    user_pool_id: str
    client_id: str
    region: str
    role_arn: str | None
    regional_api_urls: tuple[str, ...] = ()  # each ends in "/"

    @property
    def pool_region(self) -> str:
        return self.user_pool_id.split("_", 1)[0]


def settings_from(environ: Mapping[str, str]) -> Settings:
    """The variables, validated; ConfigError names the first one missing or malformed."""
    values = {}
    for name in ("FOLIO_API_URL", *VARIABLES):
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"{name} is not set")
        values[name] = value
    for name, (pattern, looks_like) in VARIABLES.items():
        if not re.fullmatch(pattern, values[name]):
            raise ConfigError(f"{name}={values[name]!r} is malformed: expected {looks_like}")
    role_arn = environ.get("FOLIO_SMOKE_ROLE_ARN", "").strip() or None
    if role_arn is not None and not re.fullmatch(ROLE_ARN_PATTERN, role_arn):
        raise ConfigError(
            f"FOLIO_SMOKE_ROLE_ARN={role_arn!r} is malformed: expected arn:aws:iam::<account>:role/<name>"
        )
    regional = [part.strip() for part in environ.get("FOLIO_REGIONAL_API_URLS", "").split(",")]
    home = api_url(values["FOLIO_API_URL"])
    regional_urls = tuple(api_url(url, "FOLIO_REGIONAL_API_URLS") for url in regional if url)
    if home in regional_urls:
        raise ConfigError(f"FOLIO_REGIONAL_API_URLS names FOLIO_API_URL ({home}): list only the regional stages")
    return Settings(
        api_url=home,
        user_pool_id=values["FOLIO_USER_POOL_ID"],
        client_id=values["FOLIO_USER_POOL_CLIENT_ID"],
        region=values["AWS_REGION"],
        role_arn=role_arn,
        regional_api_urls=tuple(dict.fromkeys(regional_urls)),
    )


def api_url(value: str, name: str = "FOLIO_API_URL") -> str:
    """A stage's base URL, ending in "/": https, or http to a loopback host (a local API).
    `name` is the variable it came from, for the error."""
    parts = urlsplit(value)
    problem = None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problem = "expected an absolute URL such as https://<id>.execute-api.<region>.amazonaws.com/v1/"
    elif parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        problem = "expected https (plain http only to a loopback address)"
    elif parts.query or parts.fragment:
        problem = "expected the stage URL without a query or fragment"
    if problem:
        raise ConfigError(f"{name}={value!r} is malformed: {problem}")
    return value if value.endswith("/") else value + "/"


def strong_password() -> str:
    """A random password that meets the pool's policy: every class at least once."""
    alphabet = string.ascii_letters + string.digits + PASSWORD_SYMBOLS
    characters = [secrets.choice(kind) for kind in (string.ascii_lowercase, string.ascii_uppercase, string.digits)]
    characters.append(secrets.choice(PASSWORD_SYMBOLS))
    characters += [secrets.choice(alphabet) for _ in range(PASSWORD_LENGTH - len(characters))]
    secrets.SystemRandom().shuffle(characters)
    return "".join(characters)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def send(method: str, url: str, *, token: str | None = None, body: object = None) -> Answer:
    """One HTTP request; any status is an answer, no answer at all is a StepFailed."""
    headers = {"Accept": "application/json", "User-Agent": "folio-smoke-test"}
    data = None
    if token is not None:
        headers["Authorization"] = token
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    # S310: `url` is FOLIO_API_URL plus a path, and api_url() admits https (or http to loopback) only.
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return Answer(response.status, response.read().decode("utf-8", errors="replace"))
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.read().decode("utf-8", errors="replace"))
    except (urllib.error.URLError, OSError) as error:
        raise StepFailed(f"{method} {url} got no answer: {getattr(error, 'reason', error)}") from None


def expect(answer: Answer, status: int, request: str) -> Answer:
    if answer.status != status:
        shown = answer.body if len(answer.body) <= MAX_BODY_SHOWN else answer.body[:MAX_BODY_SHOWN] + "..."
        raise StepFailed(f"{request} answered {answer.status}, expected {status}; body: {shown or '(empty)'}")
    return answer


def once_replicated(url: str, token: str, status: int, *, meanwhile: int) -> tuple[Answer, int]:
    """GET `url` until it answers `status`, retrying while it answers `meanwhile` (the state
    before the change reached this Region's replica) for at most REPLICATION_WAIT_SECONDS.
    The answer and how many requests it took."""
    deadline = time.monotonic() + REPLICATION_WAIT_SECONDS
    requests = 0
    while True:
        answer = send("GET", url, token=token)
        requests += 1
        if answer.status != meanwhile or time.monotonic() >= deadline:
            return expect(answer, status, f"GET {url}"), requests
        time.sleep(REPLICATION_POLL_SECONDS)


@dataclass
class Run:
    """One smoke run: what it created, so that the clean-up removes exactly that."""

    settings: Settings
    cognito: Any
    log: Callable[[str], None]
    email: str = field(default_factory=lambda: f"{USER_PREFIX}{uuid.uuid4()}@{USER_DOMAIN}")
    username: str | None = None  # Cognito's name for the user, once created
    token: str | None = None
    document_id: str | None = None  # created and not yet purged
    purged_id: str | None = None

    def url(self, path: str) -> str:
        return self.settings.api_url + path.lstrip("/")

    def step(self, name: str, action: Callable[[], str]) -> None:
        try:
            detail = action()
        except StepFailed as failure:
            raise StepFailed(f"step '{name}' failed: {failure}") from None
        except Exception as error:  # a Cognito refusal (botocore ClientError) or a malformed answer
            raise StepFailed(f"step '{name}' failed: {type(error).__name__}: {error}") from None
        self.log(f"ok    {name}: {detail}")

    def unauthenticated(self) -> str:
        expect(send("GET", self.url("documents")), 401, "GET /documents without a token")
        return "401"

    def create_user(self, password: str) -> str:
        created = self.cognito.admin_create_user(
            UserPoolId=self.settings.user_pool_id,
            Username=self.email,
            UserAttributes=[{"Name": "email", "Value": self.email}],
            MessageAction="SUPPRESS",
        )
        self.username = created["User"]["Username"]
        self.cognito.admin_set_user_password(
            UserPoolId=self.settings.user_pool_id, Username=self.email, Password=password, Permanent=True
        )
        return self.email

    def sign_in(self, password: str) -> str:
        reply = self.cognito.admin_initiate_auth(
            UserPoolId=self.settings.user_pool_id,
            ClientId=self.settings.client_id,
            AuthFlow=ADMIN_FLOW,
            AuthParameters={"USERNAME": self.email, "PASSWORD": password},
        )
        if "AuthenticationResult" not in reply:
            raise StepFailed(
                f"Cognito answered the challenge {reply.get('ChallengeName')!r} instead of tokens: the smoke "
                "test signs in with a password alone, so it runs against a pool where MFA is optional"
            )
        self.token = reply["AuthenticationResult"]["IdToken"]
        return "id token received"

    def create_document(self) -> str:
        answer = expect(send("POST", self.url("documents"), token=self.token, body=DOCUMENT), 201, "POST /documents")
        document = (answer.json() or {}).get("document") or {}
        if not isinstance(document.get("id"), str) or not document["id"]:
            # Not the body: a 201's holds the presigned upload form (a capability, kept in build logs).
            raise StepFailed("POST /documents answered 201 without a document id")
        self.document_id = document["id"]
        return f"201, document {self.document_id}"

    def read_document(self) -> str:
        path = f"documents/{self.document_id}"
        answer = expect(send("GET", self.url(path), token=self.token), 200, f"GET /{path}")
        if (answer.json() or {}).get("id") != self.document_id:
            raise StepFailed(f"GET /{path} answered 200 with another document; body: {answer.body}")
        return "200"

    def trash_document(self) -> str:
        path = f"documents/{self.document_id}"
        expect(send("DELETE", self.url(path), token=self.token), 204, f"DELETE /{path}")
        return "204"

    def purge_document(self) -> str:
        path = f"documents/{self.document_id}?purge=true"
        expect(send("DELETE", self.url(path), token=self.token), 204, f"DELETE /{path}")
        self.document_id, self.purged_id = None, self.document_id
        expect(
            send("GET", self.url(f"documents/{self.purged_id}"), token=self.token),
            404,
            f"GET /documents/{self.purged_id}",
        )
        return "204, then 404"

    def regional_unauthenticated(self, regional_url: str) -> str:
        expect(send("GET", regional_url + "documents"), 401, f"GET {regional_url}documents without a token")
        return "401"

    def regional_read(self, regional_url: str) -> str:
        """The home Region's token is accepted there, and the replica serves the document."""
        assert self.token is not None and self.document_id is not None
        answer, requests = once_replicated(
            f"{regional_url}documents/{self.document_id}", self.token, 200, meanwhile=404
        )
        if (answer.json() or {}).get("id") != self.document_id:
            raise StepFailed(f"GET {regional_url}documents/{self.document_id} answered another document")
        return f"200 after {requests} request(s)"

    def regional_purged(self, regional_url: str) -> str:
        assert self.token is not None and self.purged_id is not None
        _, requests = once_replicated(f"{regional_url}documents/{self.purged_id}", self.token, 404, meanwhile=200)
        return f"404 after {requests} request(s)"

    def clean_up(self) -> list[str]:
        """Purge what the run left and delete its user; what could not be removed."""
        problems = []
        if self.document_id is not None and self.token is not None:
            path = f"documents/{self.document_id}?purge=true"
            try:
                expect(send("DELETE", self.url(path), token=self.token), 204, f"DELETE /{path}")
                self.log(f"clean {path}: purged")
            except (StepFailed, Interrupted) as failure:
                problems.append(f"the document {self.document_id} was not purged: {failure}")
        if self.username is not None:
            try:
                self.cognito.admin_delete_user(UserPoolId=self.settings.user_pool_id, Username=self.username)
                self.log(f"clean user {self.email}: deleted")
            except Exception as error:  # any failure: reported with the user's name, for a person to remove
                problems.append(f"the user {self.email} was not deleted: {type(error).__name__}: {error}")
        return problems


def cognito_client(settings: Settings) -> Any:
    import boto3

    if settings.role_arn is None:
        return boto3.client("cognito-idp", region_name=settings.pool_region)
    sts = boto3.client("sts", region_name=settings.region)
    credentials = sts.assume_role(RoleArn=settings.role_arn, RoleSessionName=f"folio-smoke-{uuid.uuid4().hex[:16]}")[
        "Credentials"
    ]
    return boto3.client(
        "cognito-idp",
        region_name=settings.pool_region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def smoke(settings: Settings, log: Callable[[str], None]) -> list[str]:
    """Run every step; the failures (the failed step first, then any clean-up problem)."""
    try:
        cognito = cognito_client(settings)
    except Exception as error:
        return [f"step 'assume the smoke role' failed: {type(error).__name__}: {error}"]
    run = Run(settings, cognito, log)
    password = strong_password()
    failures: list[str] = []
    try:
        run.step("unauthenticated GET /documents is refused with 401", run.unauthenticated)
        run.step("create a test user", lambda: run.create_user(password))
        run.step(f"sign in with {ADMIN_FLOW}", lambda: run.sign_in(password))
        run.step("create a document", run.create_document)
        run.step("read the document", run.read_document)
        for regional in settings.regional_api_urls:
            run.step(f"{regional}: unauthenticated GET /documents is refused with 401",
                     partial(run.regional_unauthenticated, regional))  # fmt: skip
            run.step(f"{regional}: the replica serves the document to the home token",
                     partial(run.regional_read, regional))  # fmt: skip
        run.step("move the document to the trash", run.trash_document)
        run.step("purge the document", run.purge_document)
        for regional in settings.regional_api_urls:
            run.step(f"{regional}: the purge reached the replica", partial(run.regional_purged, regional))
    except (StepFailed, Interrupted) as failure:
        failures.append(str(failure))
    finally:
        failures += run.clean_up()
    return failures


def main(environ: Mapping[str, str] | None = None) -> int:
    try:
        settings = settings_from(os.environ if environ is None else environ)
    except ConfigError as error:
        print(f"smoke_test: {error}", file=sys.stderr)
        return 2
    regional = "".join(f", then {url}" for url in settings.regional_api_urls)
    print(f"smoke_test: {settings.api_url}{regional} with user pool {settings.user_pool_id}")
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        failures = smoke(settings, lambda line: print(line, flush=True))
    finally:
        signal.signal(signal.SIGTERM, previous)
    for failure in failures:
        print(f"smoke_test: {failure}", file=sys.stderr)
    if failures:
        return 1
    print("smoke_test: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
