"""Which function of the Api stack may call what: one function per folio.contracts.FunctionGroup,
plus the upload and lifecycle workers, each returning the statements of that function's own
policy (FolioFunction adds writing its own logs; FunctionBaselinePolicy what every function of
the stack may do).

tests/integration/test_least_privilege.py drives every route and both workers through the runtime
code and proves each call is allowed by exactly these statements, and no DynamoDB grant unused.
The DAX and search grants depend on where the stack puts a cluster or reaches a domain, so the
stack appends them (`DaxCache.read_statement`, `join_security_group`, `search_documents_index`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from folio import keys
from folio.contracts import FunctionGroup
from folio.search_index import SEARCH_PATH
from stacks.components.document_store import delete_every_version

# What every function that reads or writes the documents table does with its key.
TABLE_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
# Read and change single items (no Query, no Scan).
ITEM_ACTIONS = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


@dataclass(frozen=True)
class ApiResources:
    """What the Api stack's functions reach."""

    table_arn: str
    table_key_arn: str
    idempotency_table_arn: str | None  # None in a regional serving stage, which does not create
    bucket: s3.IBucket  # imported by name: its ARN is a plain string
    document_prefix: str
    bucket_key_arn: str
    cursor_secret_arn: str
    api_key_arn: str  # the Api stack's own key, which encrypts the cursor secret

    def index_arn(self, index: keys.IndexSchema) -> str:
        return f"{self.table_arn}/index/{index.name}"

    @property
    def documents(self) -> str:
        """Every object under the documents prefix."""
        return self.bucket.arn_for_objects(f"{self.document_prefix}*")


def use_table_key(resources: ApiResources) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid="UseTableKey", actions=TABLE_KEY_ACTIONS, resources=[resources.table_key_arn])


def read_cursor_secret(resources: ApiResources) -> list[iam.PolicyStatement]:
    """The HMAC key of pagination cursors, for the functions that page."""
    return [
        iam.PolicyStatement(
            sid="ReadCursorSecret", actions=["secretsmanager:GetSecretValue"], resources=[resources.cursor_secret_arn]
        ),
        iam.PolicyStatement(sid="DecryptCursorSecret", actions=["kms:Decrypt"], resources=[resources.api_key_arn]),
    ]


def create(resources: ApiResources) -> list[iam.PolicyStatement]:
    if resources.idempotency_table_arn is None:
        raise ValueError("the create function needs the idempotency table")
    return [
        iam.PolicyStatement(
            sid="CreateDocumentTransaction",  # Put the document and tag links, Update the usage
            actions=["dynamodb:PutItem", "dynamodb:UpdateItem"],
            resources=[resources.table_arn],
        ),
        iam.PolicyStatement(
            # A replayed create re-reads its document: a fresh upload form only while it
            # still awaits its upload (not after a purge, not over an available document).
            sid="RereadReplayedDocument",
            actions=["dynamodb:GetItem"],
            resources=[resources.table_arn],
        ),
        iam.PolicyStatement(
            # Powertools: Put (in progress), Update (done), Delete (the create failed); GetItem
            # only if a failed conditional Put does not return the record it collided with.
            sid="IdempotencyRecords",
            actions=ITEM_ACTIONS,
            resources=[resources.idempotency_table_arn],
        ),
        iam.PolicyStatement(sid="PresignUploads", actions=["s3:PutObject"], resources=[resources.documents]),
        iam.PolicyStatement(
            sid="EncryptUploads", actions=["kms:GenerateDataKey"], resources=[resources.bucket_key_arn]
        ),
        use_table_key(resources),
    ]


def read(resources: ApiResources) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(sid="ReadOwnItems", actions=["dynamodb:GetItem"], resources=[resources.table_arn]),
        iam.PolicyStatement(
            sid="QueryOwnItemsAndIndexes",  # AP3/AP4 on the table, AP5/AP6 on GSI1, AP7 on GSI3
            actions=["dynamodb:Query"],
            resources=[resources.table_arn, resources.index_arn(keys.GSI1), resources.index_arn(keys.GSI3)],
        ),
        *read_cursor_secret(resources),
        use_table_key(resources),
    ]


def modify(resources: ApiResources) -> list[iam.PolicyStatement]:
    return [
        # The document, its tag links and shares (listed on the document, so no Query).
        iam.PolicyStatement(sid="ChangeOwnItems", actions=ITEM_ACTIONS, resources=[resources.table_arn]),
        use_table_key(resources),
    ]


def download(resources: ApiResources) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(sid="ReadDocumentOrShare", actions=["dynamodb:GetItem"], resources=[resources.table_arn]),
        iam.PolicyStatement(
            sid="FindShareWithMe", actions=["dynamodb:Query"], resources=[resources.index_arn(keys.GSI1)]
        ),
        iam.PolicyStatement(sid="PresignDownloads", actions=["s3:GetObject"], resources=[resources.documents]),
        iam.PolicyStatement(sid="DecryptDownloads", actions=["kms:Decrypt"], resources=[resources.bucket_key_arn]),
        use_table_key(resources),
    ]


def admin(resources: ApiResources) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(
            sid="QueryRecentFeed", actions=["dynamodb:Query"], resources=[resources.index_arn(keys.GSI2)]
        ),
        use_table_key(resources),
    ]


def search(resources: ApiResources) -> list[iam.PolicyStatement]:
    """The search pages with cursors, and checks each page's hits against the table (one
    BatchGetItem): the index trails the table. Where there is a domain, it also POSTs to the
    documents index's _search (`search_documents_index`); where there is none it answers 503."""
    return [
        *read_cursor_secret(resources),
        iam.PolicyStatement(
            sid="CheckHitsAgainstTheTable", actions=["dynamodb:BatchGetItem"], resources=[resources.table_arn]
        ),
        use_table_key(resources),
    ]


API_FUNCTIONS: Mapping[FunctionGroup, Callable[[ApiResources], list[iam.PolicyStatement]]] = {
    FunctionGroup.CREATE: create,
    FunctionGroup.READ: read,
    FunctionGroup.MODIFY: modify,
    FunctionGroup.DOWNLOAD: download,
    FunctionGroup.ADMIN: admin,
    FunctionGroup.SEARCH: search,
}


# The groups whose functions only read the table: all a regional serving stage deploys (its API
# is read-only; docs/architecture.md, "Regional serving stages"). SEARCH reads too, but its
# index lives in the home Region only.
READ_ONLY_GROUPS = (FunctionGroup.READ, FunctionGroup.DOWNLOAD, FunctionGroup.ADMIN)


def api_functions(
    resources: ApiResources, groups: Collection[FunctionGroup] = tuple(FunctionGroup)
) -> dict[FunctionGroup, list[iam.PolicyStatement]]:
    """The statements of each group of `groups` (every group by default), in the order of
    FunctionGroup (the order the stack adds them)."""
    return {group: API_FUNCTIONS[group](resources) for group in FunctionGroup if group in groups}


def upload_worker(resources: ApiResources) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(
            # Read the document; accept it (Update it, Put its tag links) or reject it
            # (Delete it and its tag links, Update the usage), each in one transaction.
            sid="SettleDocument",
            actions=ITEM_ACTIONS,
            resources=[resources.table_arn],
        ),
        iam.PolicyStatement(sid="InspectObjects", actions=["s3:GetObject"], resources=[resources.documents]),
        # A rejected or orphaned object goes with every version: a late upload for a
        # purged document has no removal record left to bring the lifecycle worker back.
        *delete_every_version(resources.bucket, resources.document_prefix),
        use_table_key(resources),
    ]


# Lambda's poller calls these with the function's role; AWS's own stream-only policy
# example names the stream ARN for all four.
STREAM_READ_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]


def lifecycle_worker(
    *,
    table_arn: str,
    table_stream_arn: str,
    table_key_arn: str,
    bucket: s3.IBucket,
    document_prefix: str,
    failures_queue_arn: str,
    failures_key_arn: str,
) -> list[iam.PolicyStatement]:
    """The stream, the table and its key, the failure queue and its key, the versions of
    objects under the documents prefix (stacks/components/lifecycle_worker.py)."""
    return [
        iam.PolicyStatement(sid="ReadTableStream", actions=STREAM_READ_ACTIONS, resources=[table_stream_arn]),
        iam.PolicyStatement(
            # Delete the tag links and shares named on the removed item (so no Query); release
            # an expired document's quota in one transaction: Put a release marker (only if
            # absent, so a replay changes nothing) and Update the owner's usage.
            sid="CleanUpDocumentItems",
            actions=["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            resources=[table_arn],
        ),
        iam.PolicyStatement(
            sid="UseTableKey",  # the table's items and its stream records
            actions=TABLE_KEY_ACTIONS,
            resources=[table_key_arn],
        ),
        *delete_every_version(bucket, document_prefix),
        iam.PolicyStatement(sid="DescribeFailedBatches", actions=["sqs:SendMessage"], resources=[failures_queue_arn]),
        iam.PolicyStatement(
            sid="EncryptFailedBatches", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[failures_key_arn]
        ),
    ]


def join_security_group(sid: str, group: ec2.ISecurityGroup) -> iam.PolicyStatement:
    """A function in a security group of its own (besides the stack's functions' group): Lambda
    creates the function's interfaces with its role, so the role names that group too."""
    arn = cdk.Stack.of(group).format_arn(
        service="ec2", resource="security-group", resource_name=group.security_group_id
    )
    return iam.PolicyStatement(sid=sid, actions=["ec2:CreateNetworkInterface"], resources=[arn])


def search_documents_index(domain_arn: str) -> iam.PolicyStatement:
    """The one call the search function makes on the domain: POST the documents index's _search."""
    return iam.PolicyStatement(
        sid="SearchDocumentsIndex", actions=["es:ESHttpPost"], resources=[f"{domain_arn}/{SEARCH_PATH}"]
    )
