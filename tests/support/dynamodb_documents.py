"""Both DynamoDB adapters on one client, for the tests and the benchmark that drive a whole
flow (create, settle, share, list) without caring which port each step belongs to."""

from __future__ import annotations

from typing import Any

from folio.reads import DynamoDbReads
from folio.writes import DynamoDbWrites


class DynamoDbDocuments(DynamoDbReads, DynamoDbWrites):
    """folio.ports.DocumentReads and DocumentWrites on `client`, reading consistently."""

    def __init__(self, client: Any, table_name: str) -> None:
        DynamoDbReads.__init__(self, client, table_name, consistent=True)
