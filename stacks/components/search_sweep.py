"""`SearchSweep`: the scheduled function that deletes index entries of documents the table no
longer has (lambda/folio/search_sweep.py says why they can remain and why deleting is safe).

The time a purged document's entry can outlive it is `SWEEP_INTERVAL` plus one run
(docs/operations.md, "What a removed document leaves behind").
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from folio.handlers import SEARCH_SWEEP_HANDLER
from folio.search_index import SEARCH_PATH
from folio.search_sweep import BULK_PATH
from folio.settings import Env
from stacks import nag
from stacks.components.search_domain import SearchDomain
from stacks.components.search_functions import SearchFunctions

SWEEP_INTERVAL = cdk.Duration.hours(6)
# A run pages 100 entries per search, one BatchGetItem and at most one bulk request each. Assumed
# at most 0.3 s a page on AWS (three round trips in the VPC; not measured: `make bench` times the
# engine side on loopback only), so about 20,000 entries a minute and 200,000 a run. An index it
# cannot finish is reported (SearchSweepIncomplete) and wants a longer timeout or a resumable sweep.
SWEEP_TIMEOUT = cdk.Duration.minutes(10)
# Its two calls on the domain, both POST: page the index, delete in bulk.
SWEEP_PATHS = (SEARCH_PATH, BULK_PATH)


class SearchSweep(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: SearchFunctions,
        domain: SearchDomain,
        table: dynamodb.ITableV2,
        table_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        runtime = functions.runtime(
            {Env.SEARCH_ENDPOINT: f"https://{domain.endpoint}", Env.TABLE_NAME: table.table_name}
        )
        self.function = runtime.add(
            self,
            "Function",
            handler=SEARCH_SWEEP_HANDLER,
            description="Folio search: delete index entries of documents the table no longer has",
            timeout=SWEEP_TIMEOUT,
            statements=[
                iam.PolicyStatement(
                    sid="PageAndDeleteIndexEntries",
                    actions=["es:ESHttpPost"],
                    resources=[f"{domain.domain_arn}/{path}" for path in SWEEP_PATHS],
                ),
                iam.PolicyStatement(
                    sid="CheckEntriesAgainstTheTable", actions=["dynamodb:BatchGetItem"], resources=[table.table_arn]
                ),
                iam.PolicyStatement(sid="DecryptTableReads", actions=["kms:Decrypt"], resources=[table_key.key_arn]),
            ],
        )
        nag.acknowledge(self.function.function, nag.FUNCTIONS_IN_VPC_ACROSS_STACKS)
        self.role = self.function.role
        domain.admit(self.role.role_arn, sid="IndexSweep", actions=["es:ESHttpPost"], paths=SWEEP_PATHS)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Folio search: sweep the index of entries whose document is gone",
            schedule=events.Schedule.rate(SWEEP_INTERVAL),
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    dead_letter_queue=functions.dead_letters,
                    retry_attempts=2,
                    max_event_age=SWEEP_INTERVAL,
                )
            ],
        )
