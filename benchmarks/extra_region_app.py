"""`make bench`'s Folio app with one more replica Region in every environment.

app.py's own `main()`, over a copy of stacks/environments.py's data in which each environment
has one more replica Region (the first, alphabetically, that its config accepts and it does not
deploy to yet): `cdk synth --app` with this script next to `cdk synth` of app.py gives the time
one Region adds. The committed environments are not changed, and nothing in app.py or the stacks
exists for the benchmark. The added Regions' availability zones go into the CLI's context as
cdk.context.json holds them for the others, so the synth stays offline.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda")]

from stacks.config import ConfigError, parse_config  # noqa: E402  (after the path, as in app.py)
from stacks.regions import KNOWN_REGIONS  # noqa: E402

# Where the CDK CLI hands the context to the app: the variable, or a file it names when the
# context is too large for the environment.
CONTEXT_VARIABLE = "CDK_CONTEXT_JSON"
CONTEXT_FILE_VARIABLE = "CONTEXT_OVERFLOW_LOCATION_ENV"


def one_more_replica_region(
    environments: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """A copy of `environments` with one more replica Region in each, and the Region added to each."""
    modified: dict[str, dict[str, Any]] = copy.deepcopy(dict(environments))  # type: ignore[arg-type]
    added = {}
    for name, raw in modified.items():
        deployed_to = parse_config(name, raw).all_regions
        for region in sorted(KNOWN_REGIONS - set(deployed_to)):
            candidate = {**raw, "replica_regions": [*raw["replica_regions"], region]}
            try:
                parse_config(name, candidate)
            except ConfigError:  # a Region without a service the environment needs there, or one too many
                continue
            modified[name], added[name] = candidate, region
            break
        else:
            raise SystemExit(f"benchmark: no Region can be added to {name}'s replica_regions")
    return modified, added


def zone_context(
    environments: Mapping[str, Mapping[str, Any]], added: Mapping[str, str], *, cli_account: str | None
) -> dict[str, list[str]]:
    """Availability-zone context entries for each added Region, in the account of its environment."""
    context = {}
    for name, region in added.items():
        account = parse_config(name, environments[name], cli_account=cli_account).account
        context[f"availability-zones:account={account}:region={region}"] = [f"{region}{z}" for z in "abc"]
    return context


def _add_to_cli_context(entries: Mapping[str, Any]) -> None:
    # Before aws_cdk is imported: its Node process takes this process's environment when it starts.
    overflow = os.environ.get(CONTEXT_FILE_VARIABLE)
    if overflow:
        path = Path(overflow)
        path.write_text(json.dumps({**json.loads(path.read_text()), **entries}))
    else:
        os.environ[CONTEXT_VARIABLE] = json.dumps({**json.loads(os.environ.get(CONTEXT_VARIABLE, "{}")), **entries})


def main() -> int:
    from stacks import environments

    modified, added = one_more_replica_region(environments.ENVIRONMENTS)
    _add_to_cli_context(zone_context(modified, added, cli_account=os.environ.get("CDK_DEFAULT_ACCOUNT")))
    environments.ENVIRONMENTS = modified  # this process's copy only: load_config reads it at each call
    import app

    return app.main()


if __name__ == "__main__":
    sys.exit(main())
