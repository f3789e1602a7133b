"""Which reads go through DAX: the functions that read through the cluster, and what they read.

One table, read by the Api stack (each reader's `dax:` statement, the cluster role's DynamoDB
reads) and by the tests. Writes never go through DAX, and neither does any read that feeds a
conditional write or authorizes a download (docs/read-path.md). A read not listed here goes straight to DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass

from folio import keys
from folio.contracts import FunctionGroup


@dataclass(frozen=True)
class DaxRead:
    """One DynamoDB operation a function sends to DAX, on the table or one of its indexes."""

    operation: str  # as in the DynamoDB API: GetItem, Query
    index: keys.IndexSchema | None = None  # None: the table itself
    why: str = ""

    @property
    def dax_action(self) -> str:
        return f"dax:{self.operation}"

    @property
    def dynamodb_action(self) -> str:
        return f"dynamodb:{self.operation}"


READS_THROUGH_DAX: dict[FunctionGroup, tuple[DaxRead, ...]] = {
    FunctionGroup.READ: (DaxRead("Query", keys.GSI1, "AP6: the documents shared with me"),),
    # The document behind a download is read consistently from the table: it authorizes the
    # download, and a purge or trash must end it at once. Only the share that locates a
    # shared document's owner is cached.
    FunctionGroup.DOWNLOAD: (DaxRead("Query", keys.GSI1, "find_share: the grantee's share of a document"),),
    FunctionGroup.ADMIN: (DaxRead("Query", keys.GSI2, "AP8: the recent uploads feed"),),
}
