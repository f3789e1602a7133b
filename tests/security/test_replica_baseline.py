"""Guard: the replica Regions of each environment (stacks/environments.py) differ from what is
deployed (stacks/data/replica_baseline.json) by at most one replica.

A DynamoDB global table takes one replica change per update (a create or a delete of one replica),
so a deploy that adds or removes two fails and rolls back. The baseline is what is deployed: a
config one Region ahead of it is the change the next deploy makes, and the baseline is updated after
that deploy (docs/operations.md, "Add or remove a replica Region"). The checker's own tests are in
tests/support/test_replica_changes.py.
"""

from __future__ import annotations

from stacks import environments
from stacks.config import load_config
from tests.support.replica_changes import BASELINE, load_baseline, replica_change_problems


def test_each_environment_is_at_most_one_replica_change_from_what_is_deployed() -> None:
    configured = {name: load_config(name).replica_regions for name in environments.ENVIRONMENTS}

    problems = replica_change_problems(load_baseline(BASELINE), configured)

    assert not problems, "\n".join(problems)
