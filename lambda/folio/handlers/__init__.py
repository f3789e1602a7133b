"""Lambda entry points: one module per folio.contracts.FunctionGroup, plus the workers.

The table below is what the stacks give Lambda as each function's `Handler`, and what the
tests find a function by; it names the modules beside it, so a moved module is one change
here (tests/unit/test_handlers.py checks that each names a `handler` its module defines).
Every function imports this package first, the Search stack's layer-less ones too: it imports
nothing but folio.contracts (standard library only).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from folio.contracts import FunctionGroup

# The API's functions, one per permission group.
API_HANDLERS: Mapping[FunctionGroup, str] = MappingProxyType(
    {
        FunctionGroup.CREATE: "folio.handlers.create.handler",
        FunctionGroup.READ: "folio.handlers.read.handler",
        FunctionGroup.MODIFY: "folio.handlers.modify.handler",
        FunctionGroup.DOWNLOAD: "folio.handlers.download.handler",
        FunctionGroup.ADMIN: "folio.handlers.admin.handler",
        FunctionGroup.SEARCH: "folio.handlers.search.handler",
    }
)
UPLOAD_WORKER_HANDLER = "folio.handlers.upload_worker.handler"
LIFECYCLE_WORKER_HANDLER = "folio.handlers.lifecycle_worker.handler"
SEARCH_SWEEP_HANDLER = "folio.handlers.search_sweep.handler"
