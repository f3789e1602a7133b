"""Fine-grained access control inside OpenSearch for the `documents` index: which backend role
(an IAM role ARN) may write it (the ingestion pipeline) and which may read it (the search
function). Applied through the security plugin's REST API, idempotently.

This module is the logic of the role-mapping custom resource (issue 10 §3): `apply` on Create
and Update, `remove` on Delete, each a sequence of GET / PUT / DELETE calls through a
`SecurityApi` port that a SigV4-signed HTTP adapter implements (as the domain's master role).
Each call reads before it writes, so running it twice, or after a half-finished run, changes
nothing that is already right.

The custom resource's handler is folio.handlers.search_role_mappings (`RESOURCE_HANDLER`): it
checks its properties with `ResourceProperties` (named by the `*_PROPERTY` constants, which the
stack that declares the resource imports), calls `apply`/`remove` through the SigV4 adapter
folio.search_security_api and answers CloudFormation. Its CDK wiring is
stacks/components/search_role_mappings.py (docs/search.md, "Who may do what inside OpenSearch").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from folio.search_index import INDEX_NAME

API = "/_plugins/_security/api"
DOCUMENTS_INDEX = INDEX_NAME
WRITE_ROLE = "folio_documents_write"
READ_ROLE = "folio_documents_read"
SWEEP_ROLE = "folio_documents_sweep"
# The security plugin checks a _bulk request as a cluster action (it may span indices), then each
# item on its index.
BULK = "indices:data/write/bulk"
# What Data Prepper's OpenSearch sink needs: the index template, the index, bulk writes and
# deletes, and the cluster health it checks before writing.
WRITE_CLUSTER_PERMISSIONS = (
    "cluster_monitor",
    "indices:admin/index_template/get",
    "indices:admin/index_template/put",
    BULK,
)
# `indices:admin/get`: the sink asks whether the index exists (HEAD /documents) before it writes.
WRITE_INDEX_ACTIONS = (
    "create_index",
    "crud",
    "indices:admin/get",
    "indices:admin/mapping/put",
    "indices:data/write/bulk*",
)
# The search function only POSTs `documents/_search` (folio.search_index.SEARCH_PATH): a search and
# its shard phases, nothing else of the `read` group (no get, mget, scroll or point in time).
READ_INDEX_ACTIONS = ("indices:data/read/search*",)
# The sweep (folio.search_sweep) pages the index and bulk-deletes entries: no index, no update.
SWEEP_INDEX_ACTIONS = ("indices:data/read/search*", "indices:data/write/bulk*", "indices:data/write/delete")

# The custom resource's contract with the stack that declares it: its handler, and the names of
# its properties (CloudFormation passes each value as a string, or a list of strings).
RESOURCE_HANDLER = "folio.handlers.search_role_mappings.handler"
ENDPOINT_PROPERTY = "Endpoint"  # "https://<domain endpoint>", no path
PIPELINE_ROLE_ARN_PROPERTY = "PipelineRoleArn"  # the ingestion pipeline's role: writes `documents`
SEARCH_ROLE_ARNS_PROPERTY = "SearchRoleArns"  # the search function roles: read `documents`
SWEEP_ROLE_ARN_PROPERTY = "SweepRoleArn"  # the index sweep's role: reads `documents`, deletes from it
PHYSICAL_ID_PREFIX = "folio-documents-roles@"

_ENDPOINT = re.compile(r"https://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?)")
_ROLE_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:role/(?:[A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}")


class SecurityApiError(RuntimeError):
    """The security plugin answered with a status the operation does not expect."""

    def __init__(self, method: str, path: str, status: int, body: object) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body}")
        self.status = status


class SecurityApi(Protocol):
    """One HTTP call to the domain: (status, parsed JSON body or None)."""

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]: ...


@dataclass(frozen=True)
class IndexRole:
    """A security-plugin role on one index, mapped to IAM roles by ARN (backend roles)."""

    name: str
    index_patterns: tuple[str, ...]
    allowed_actions: tuple[str, ...]
    cluster_permissions: tuple[str, ...]
    backend_roles: tuple[str, ...]

    def role_body(self) -> dict[str, Any]:
        return {
            "cluster_permissions": list(self.cluster_permissions),
            "index_permissions": [
                {"index_patterns": list(self.index_patterns), "allowed_actions": list(self.allowed_actions)}
            ],
        }

    def mapping_body(self) -> dict[str, Any]:
        return {"backend_roles": list(self.backend_roles)}


class InvalidProperties(ValueError):
    """The resource's properties are not what the resource needs; the message names the property."""


def _shown(value: object) -> str:
    return repr(value)[:100]


def _role_arn(name: str, value: object) -> str:
    if not isinstance(value, str) or _ROLE_ARN.fullmatch(value) is None:
        raise InvalidProperties(
            f"{name} must be an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<name>), got {_shown(value)}"
        )
    return value


@dataclass(frozen=True)
class ResourceProperties:
    """The custom resource's properties, checked: which domain, which role writes, which read."""

    endpoint: str
    pipeline_role_arn: str
    search_role_arns: tuple[str, ...]
    sweep_role_arn: str

    @classmethod
    def parse(cls, raw: object) -> ResourceProperties:
        """Raises InvalidProperties naming the first property that is missing or wrong."""
        if not isinstance(raw, Mapping):
            raise InvalidProperties(f"ResourceProperties must be an object, got {_shown(raw)}")
        for name in (ENDPOINT_PROPERTY, PIPELINE_ROLE_ARN_PROPERTY, SEARCH_ROLE_ARNS_PROPERTY, SWEEP_ROLE_ARN_PROPERTY):
            if name not in raw:
                raise InvalidProperties(f"{name} is missing")
        endpoint = raw[ENDPOINT_PROPERTY]
        if not isinstance(endpoint, str):
            raise InvalidProperties(f"{ENDPOINT_PROPERTY} must be a string, got {_shown(endpoint)}")
        if _ENDPOINT.fullmatch(endpoint) is None:
            raise InvalidProperties(
                f"{ENDPOINT_PROPERTY} must be https://<host> with no path, query or user, got {_shown(endpoint)}"
            )
        readers = raw[SEARCH_ROLE_ARNS_PROPERTY]
        if not isinstance(readers, list):
            raise InvalidProperties(
                f"{SEARCH_ROLE_ARNS_PROPERTY} must be a list of IAM role ARNs, got {_shown(readers)}"
            )
        if not readers:
            raise InvalidProperties(f"{SEARCH_ROLE_ARNS_PROPERTY} is empty: name each role that searches the index")
        return cls(
            endpoint=endpoint,
            pipeline_role_arn=_role_arn(PIPELINE_ROLE_ARN_PROPERTY, raw[PIPELINE_ROLE_ARN_PROPERTY]),
            search_role_arns=tuple(_role_arn(f"{SEARCH_ROLE_ARNS_PROPERTY}[{i}]", v) for i, v in enumerate(readers)),
            sweep_role_arn=_role_arn(SWEEP_ROLE_ARN_PROPERTY, raw[SWEEP_ROLE_ARN_PROPERTY]),
        )

    @property
    def physical_id(self) -> str:
        """One per domain: a new endpoint is a new domain, so CloudFormation replaces the resource
        and deletes the old one with the old properties."""
        return PHYSICAL_ID_PREFIX + self.endpoint.removeprefix("https://")

    def roles(self) -> tuple[IndexRole, ...]:
        return documents_roles(
            pipeline_role_arn=self.pipeline_role_arn,
            search_role_arns=self.search_role_arns,
            sweep_role_arn=self.sweep_role_arn,
        )


def documents_roles(
    *, pipeline_role_arn: str, search_role_arns: Sequence[str], sweep_role_arn: str
) -> tuple[IndexRole, ...]:
    """The pipeline writes `documents`; the search function(s) read it; the sweep reads it and
    deletes from it. Nothing else."""
    return (
        IndexRole(
            name=WRITE_ROLE,
            index_patterns=(DOCUMENTS_INDEX,),
            allowed_actions=WRITE_INDEX_ACTIONS,
            cluster_permissions=WRITE_CLUSTER_PERMISSIONS,
            backend_roles=(pipeline_role_arn,),
        ),
        IndexRole(
            name=READ_ROLE,
            index_patterns=(DOCUMENTS_INDEX,),
            allowed_actions=READ_INDEX_ACTIONS,
            cluster_permissions=(),
            backend_roles=tuple(search_role_arns),
        ),
        IndexRole(
            name=SWEEP_ROLE,
            index_patterns=(DOCUMENTS_INDEX,),
            allowed_actions=SWEEP_INDEX_ACTIONS,
            cluster_permissions=(BULK,),
            backend_roles=(sweep_role_arn,),
        ),
    )


def _current(api: SecurityApi, path: str, name: str) -> dict[str, Any] | None:
    status, body = api.request("GET", path)
    if status == 404:
        return None
    if status != 200 or not isinstance(body, dict) or name not in body:
        raise SecurityApiError("GET", path, status, body)
    current: dict[str, Any] = body[name]
    return current


def _same(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """The fields Folio sets, compared as sets (the plugin adds others and may reorder lists)."""
    for key, value in desired.items():
        if key == "index_permissions":
            have = {
                (frozenset(p.get("index_patterns", [])), frozenset(p.get("allowed_actions", [])))
                for p in current.get(key, [])
            }
            want = {(frozenset(p["index_patterns"]), frozenset(p["allowed_actions"])) for p in value}
            if have != want:
                return False
        elif set(current.get(key, [])) != set(value):
            return False
    return True


def _put_if_changed(api: SecurityApi, kind: str, name: str, desired: Mapping[str, Any]) -> bool:
    path = f"{API}/{kind}/{name}"
    current = _current(api, path, name)
    if current is not None and current.get("reserved"):
        raise SecurityApiError("PUT", path, 409, f"{name} is reserved; Folio never changes a reserved {kind} entry")
    if current is not None and _same(current, desired):
        return False
    status, body = api.request("PUT", path, desired)
    if status not in (200, 201):
        raise SecurityApiError("PUT", path, status, body)
    return True


def _delete_if_present(api: SecurityApi, kind: str, name: str) -> bool:
    path = f"{API}/{kind}/{name}"
    status, body = api.request("DELETE", path)
    if status == 404:
        return False
    if status != 200:
        raise SecurityApiError("DELETE", path, status, body)
    return True


def apply(api: SecurityApi, roles: Iterable[IndexRole], *, previous: Iterable[IndexRole] = ()) -> list[str]:
    """Create or update each role and then its mapping; remove the roles of `previous` (the
    resource's old properties on Update) that are no longer wanted. Returns what changed."""
    roles = list(roles)
    changed = []
    for role in roles:
        if _put_if_changed(api, "roles", role.name, role.role_body()):
            changed.append(f"roles/{role.name}")
        if _put_if_changed(api, "rolesmapping", role.name, role.mapping_body()):
            changed.append(f"rolesmapping/{role.name}")
    wanted = {role.name for role in roles}
    changed += remove(api, [old for old in previous if old.name not in wanted])
    return changed


def remove(api: SecurityApi, roles: Iterable[IndexRole]) -> list[str]:
    """Delete each mapping and then its role; what is already gone is not an error."""
    changed = []
    for role in roles:
        for kind in ("rolesmapping", "roles"):  # the mapping first: a role is never left mapped half-way
            if _delete_if_present(api, kind, role.name):
                changed.append(f"{kind}/{role.name}")
    return changed
