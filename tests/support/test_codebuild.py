"""tests/support/codebuild.py runs a buildspec as CodeBuild does where the asset step relies on it
(one shell across commands and phases, phases in order, a failing command ends the run), and its
fake npm installs only what the asset step installs."""

from __future__ import annotations

from pathlib import Path

from tests.support.codebuild import FakeNpm, run_buildspec

ENV = {"PATH": "/usr/bin:/bin"}


def test_exports_and_cd_hold_across_commands_and_phases(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    spec = {
        "version": "0.2",
        "phases": {
            "build": {"commands": ['echo "$GREETING from $(basename "$PWD")"']},
            "install": {"commands": ["export GREETING=hello", "cd sub"]},
        },
    }

    result = run_buildspec(spec, tmp_path, ENV)

    assert (result.returncode, result.stdout) == (0, "hello from sub\n")


def test_a_failing_command_ends_the_run_with_its_status(tmp_path: Path) -> None:
    spec = {"phases": {"install": {"commands": ["true && (exit 3)"]}, "build": {"commands": ["echo ran"]}}}

    result = run_buildspec(spec, tmp_path, ENV)

    assert result.returncode == 3
    assert "ran" not in result.stdout
    assert "command 1 failed with 3" in result.stderr


def test_the_source_directory_is_codebuilds(tmp_path: Path) -> None:
    result = run_buildspec({"phases": {"build": {"commands": ['echo "$CODEBUILD_SRC_DIR"']}}}, tmp_path, ENV)

    assert result.stdout.strip() == str(tmp_path)


def fake_npm(tmp_path: Path) -> FakeNpm:
    package = tmp_path / "package"
    (package / "node_modules").mkdir(parents=True)
    (package / "package-lock.json").write_text('{"lockfileVersion": 3}')
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\necho tool\n")
    tool.chmod(0o755)
    npm = FakeNpm(tmp_path / "npm", package, tmp_path / "global", {"tool@1.2.3": tool})
    npm.write()
    return npm


def test_fake_npm_ci_links_the_installed_modules_only_for_the_committed_lock(tmp_path: Path) -> None:
    npm = fake_npm(tmp_path)
    source = tmp_path / "src"
    (source / "shipped").mkdir(parents=True)
    (source / "shipped" / "package-lock.json").write_text('{"lockfileVersion": 3}')
    (source / "other").mkdir()
    (source / "other" / "package-lock.json").write_text('{"lockfileVersion": 2}')
    env = {"PATH": f"{npm.directory}:/usr/bin:/bin"}

    good = run_buildspec(
        {"phases": {"install": {"commands": ["npm ci --prefix shipped --ignore-scripts"]}}}, source, env
    )
    bad = run_buildspec({"phases": {"install": {"commands": ["npm ci --prefix other"]}}}, source, env)

    assert good.returncode == 0, good.stderr
    assert (source / "shipped" / "node_modules").resolve() == npm.locked_package / "node_modules"
    assert bad.returncode == 98


def test_fake_npm_installs_only_the_pinned_global_package(tmp_path: Path) -> None:
    npm = fake_npm(tmp_path)
    env = {"PATH": f"{npm.directory}:{npm.global_bin}:/usr/bin:/bin"}

    pinned = run_buildspec({"phases": {"install": {"commands": ["npm install -g tool@1.2.3", "tool"]}}}, tmp_path, env)
    other = run_buildspec({"phases": {"install": {"commands": ["npm install -g tool@latest"]}}}, tmp_path, env)

    assert (pinned.returncode, pinned.stdout) == (0, "tool\n")
    assert other.returncode == 97
    assert "unexpected call: npm install -g tool@latest" in other.stderr
