"""tools/asset-publisher's `cdk-assets`, run as the pipeline's asset step runs it: it accepts exactly
the command CDK Pipelines generates, reads the asset manifest schema aws-cdk-lib writes, and any
other use or any failure ends with a non-zero exit and one line on stderr, never a stack trace.
(tests/integration/test_asset_publishing.py runs the real step against moto.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk import cloud_assembly_schema

from tests.conftest import PROJECT_ROOT
from tests.support import loopback

PUBLISHER = PROJECT_ROOT / "tools" / "asset-publisher" / "bin" / "cdk-assets"
ASSET = "a1b2c3"
DESTINATION = "111111111111-eu-west-1-0000"
FILE_PUBLISHING_ROLE = "cdk-hnb659fds-file-publishing-role-111111111111-eu-west-1"


def run(*arguments: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is missing: run `make install`"
    environment = {"PATH": str(Path(node).parent), "HOME": str(cwd), **(env or {})}
    return subprocess.run(
        [node, str(PUBLISHER), *arguments], cwd=cwd, env=environment, capture_output=True, text=True, timeout=60
    )


def manifest(directory: Path, *, docker: bool = False) -> Path:
    """An asset manifest at the schema version aws-cdk-lib writes, with one file asset (and an image)."""
    (directory / "asset.txt").write_text("folio")
    destination = {
        "bucketName": "cdk-hnb659fds-assets-111111111111-eu-west-1",
        "objectKey": "a1b2c3.txt",
        "region": "eu-west-1",
        "assumeRoleArn": f"arn:${{AWS::Partition}}:iam::111111111111:role/{FILE_PUBLISHING_ROLE}",
    }
    content = {
        "version": cloud_assembly_schema.Manifest.version(),
        "files": {
            ASSET: {"source": {"path": "asset.txt", "packaging": "file"}, "destinations": {DESTINATION: destination}}
        },
        "dockerImages": {},
    }
    if docker:
        content["dockerImages"] = {
            "d4e5f6": {
                "source": {"directory": "."},
                "destinations": {DESTINATION: {"repositoryName": "r", "imageTag": "t", "region": "eu-west-1"}},
            }
        }
    path = directory / "Stack.assets.json"
    path.write_text(json.dumps(content))
    return path


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *, says: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert "    at " not in result.stderr and not lines[0].startswith("Error")  # no stack trace


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ((), "no command given"),
        (("--path",), "--path needs a manifest path"),
        (("--path", "Stack.assets.json", "ls"), "command 'ls' is not supported"),
        (("--path", "Stack.assets.json", "publish"), "name at least one <assetId:destinationId>"),
        (("--path", "Stack.assets.json", "publish", ASSET), f"not an <assetId:destinationId>: {ASSET}"),
        (("--path", "Stack.assets.json", "publish", "*:*"), "not an <assetId:destinationId>: *:*"),
        (("--path", "Stack.assets.json", "publish", f"{ASSET}:*"), f"not an <assetId:destinationId>: {ASSET}:*"),
        (("--path", "Stack.assets.json", "--profile", "p", "publish", f"{ASSET}:{DESTINATION}"), "--profile"),
        (("publish", f"{ASSET}:{DESTINATION}"), "--path <asset manifest> is required"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(tmp_path: Path, arguments: tuple[str, ...], says: str) -> None:
    manifest(tmp_path)

    result = run(*arguments, cwd=tmp_path)

    assert_one_line_failure(result, says=says)
    assert result.returncode == 2


def test_a_manifest_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    result = run("--path", "missing.assets.json", "--verbose", "publish", f"{ASSET}:{DESTINATION}", cwd=tmp_path)

    assert_one_line_failure(result, says="Cannot read asset manifest at 'missing.assets.json'")
    assert result.returncode == 1


def test_a_selector_that_matches_nothing_is_one_line(tmp_path: Path) -> None:
    # cdk-assets 4.7.3 publishes nothing and succeeds; a typo in a pipeline would then go unseen.
    manifest(tmp_path)

    result = run("--path", "Stack.assets.json", "publish", f"{ASSET}:{DESTINATION}", "ffffff:elsewhere", cwd=tmp_path)

    assert_one_line_failure(result, says="no asset destination in the manifest matches ffffff:elsewhere")


def test_an_image_asset_is_refused(tmp_path: Path) -> None:
    manifest(tmp_path, docker=True)

    result = run("--path", "Stack.assets.json", "publish", f"d4e5f6:{DESTINATION}", cwd=tmp_path)

    assert_one_line_failure(result, says="only file assets are published here")


def test_a_failed_publish_is_one_line_after_the_progress(tmp_path: Path) -> None:
    # Nothing listens on the endpoint: STS and S3 are unreachable.
    manifest(tmp_path)
    env = {
        **loopback.ENVIRONMENT,
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
    }

    result = run("--path", "Stack.assets.json", "publish", f"{ASSET}:{DESTINATION}", cwd=tmp_path, env=env)

    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"cdk-assets (folio-asset-publisher): publishing failed for {ASSET}:{DESTINATION}: ")
    assert "    at " not in result.stderr


def test_it_reads_the_schema_aws_cdk_lib_writes(tmp_path: Path) -> None:
    # cdk-assets 4.7.3 stops at schema 54 ("Cloud assembly schema version mismatch").
    path = manifest(tmp_path)

    result = run("--path", path.name, "publish", f"{ASSET}:nothing-here", cwd=tmp_path)

    assert cloud_assembly_schema.Manifest.version().split(".")[0] == "55"
    assert "schema" not in result.stderr
    assert "matches" in result.stderr  # it got as far as selecting
