"""Lambda entry points: one module per folio.contracts.FunctionGroup, plus the upload worker."""
