"""The one structured logger every function uses (its own module, so the upload worker
logs without importing the API Gateway resolver)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="folio")
