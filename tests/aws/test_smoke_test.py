"""The post-deploy smoke test (tools/smoke_test.py) against a deployed stage (opt-in: `make test-aws`).

The same run the pipeline makes after deploying dev, from a workstation, with the variables the
pipeline's step sets (the stage's outputs) and credentials allowed the script's Cognito actions:

    FOLIO_API_URL=https://<id>.execute-api.<region>.amazonaws.com/v1/ \\
    FOLIO_USER_POOL_ID=<region>_<id> FOLIO_USER_POOL_CLIENT_ID=<smoke client id> AWS_REGION=<region> \\
    make test-aws

Add FOLIO_REGIONAL_API_URLS (the regional serving stages' ApiUrl outputs, comma-separated) to
check, in each replica Region, that the home pool's token is accepted and the replica serves the
document: the two things about a regional stage that only AWS can prove.

Marked `aws`, so `make test` deselects it. Without the variables it fails, naming the first one
missing, rather than skipping: asking for the check and not configuring it is an error.
"""

from __future__ import annotations

import pytest

from tools import smoke_test

pytestmark = pytest.mark.aws


def test_the_smoke_test_passes_against_the_deployed_stage(capsys: pytest.CaptureFixture[str]) -> None:
    code = smoke_test.main()

    out, err = capsys.readouterr()
    assert code == 0, out + err
