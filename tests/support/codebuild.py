"""A CodeBuild buildspec (version 0.2) run on this machine, as far as the pipeline's asset step needs:
the commands of the install, pre_build and build phases, in that order, in ONE shell (`/bin/sh`,
CodeBuild's shell on its Linux images), so that a `cd` or an `export` of one command holds for the
next, across phases, as the buildspec reference says of version 0.2. A command that exits non-zero
ends the run with its status, as it fails its phase in CodeBuild.

`runtime-versions` are not emulated (the local Node runs). npm is replaced by `FakeNpm`, because a
test never installs from the registry (`make install` does, once): it answers exactly the two
installs the asset step makes, from what `make install` installed, and refuses anything else.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PHASES = ("install", "pre_build", "build")
SHELL = "/bin/sh"
SOURCE_DIRECTORY_VARIABLE = "CODEBUILD_SRC_DIR"


@dataclass(frozen=True)
class BuildResult:
    returncode: int
    stdout: str
    stderr: str


def phase_commands(spec: Mapping[str, Any], phases: tuple[str, ...] = PHASES) -> list[str]:
    """Every command of `phases` (of PHASES), in the order CodeBuild runs them."""
    declared = spec.get("phases", {})
    return [command for phase in PHASES if phase in phases for command in declared.get(phase, {}).get("commands", [])]


def shell_script(commands: list[str]) -> str:
    """One POSIX sh script that runs `commands` in one shell and stops at the first failure."""
    lines = []
    for number, command in enumerate(commands, 1):
        lines.append(command)
        lines.append(
            f'status=$?; if [ "$status" -ne 0 ]; then echo "[buildspec] command {number} failed with $status: "'
            f"{shlex.quote(command)} >&2; exit $status; fi"
        )
    return "\n".join(lines) + "\n"


def run_buildspec(
    spec: Mapping[str, Any],
    source_directory: Path,
    env: Mapping[str, str],
    *,
    phases: tuple[str, ...] = PHASES,
    timeout: float = 120,
) -> BuildResult:
    """Runs `phases` of `spec` in `source_directory` (the primary source: here the cloud assembly)."""
    completed = subprocess.run(
        [SHELL, "-c", shell_script(phase_commands(spec, phases))],
        cwd=source_directory,
        env={**env, SOURCE_DIRECTORY_VARIABLE: str(source_directory)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return BuildResult(completed.returncode, completed.stdout, completed.stderr)


@dataclass(frozen=True)
class FakeNpm:
    """An `npm` for the asset step's two installs, written into `directory` (put it first on PATH):

    - `npm ci --prefix <dir> ...`: only if `<dir>/package-lock.json` is byte-identical to
      `locked_package`'s lock; links `<dir>/node_modules` to the `node_modules` that `make install`
      installed there from that lock.
    - `npm install -g <package>@<version>`: only for `global_packages[package] == version`; links
      that package's installed binaries into `global_bin` (put it on PATH after `directory`, where
      npm's global prefix is in CodeBuild).
    Anything else exits 97 with the call, so a buildspec that installs something new fails here.
    """

    directory: Path
    locked_package: Path
    global_bin: Path
    global_packages: Mapping[str, Path]  # "cdk-assets@4.7.3" -> its installed binary

    def write(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.global_bin.mkdir(parents=True, exist_ok=True)
        lock = self.locked_package / "package-lock.json"
        modules = self.locked_package / "node_modules"
        global_cases = "\n".join(
            f"    {shlex.quote(spec)}) ln -sf {shlex.quote(str(binary))} {shlex.quote(str(self.global_bin))};;"
            for spec, binary in self.global_packages.items()
        )
        script = f"""#!/bin/sh
# Fake npm (tests/support/codebuild.py): the asset step's installs from what `make install` installed.
refuse() {{ echo "fake npm: unexpected call: npm $*" >&2; exit 97; }}
if [ "$1" = ci ] && [ "$2" = --prefix ] && [ -n "$3" ]; then
  if ! cmp -s "$3/package-lock.json" {shlex.quote(str(lock))}; then
    echo "fake npm: $3/package-lock.json is not the committed lock" >&2; exit 98
  fi
  ln -sfn {shlex.quote(str(modules))} "$3/node_modules"
  exit 0
fi
if [ "$1" = install ] && [ "$2" = -g ] && [ $# -eq 3 ]; then
  case "$3" in
{global_cases}
    *) refuse "$@";;
  esac
  exit 0
fi
refuse "$@"
"""
        npm = self.directory / "npm"
        npm.write_text(script)
        npm.chmod(0o755)
        return npm
