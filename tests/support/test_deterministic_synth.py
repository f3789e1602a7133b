"""The template comparison and the fresh process of tests/support/deterministic_synth.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.deterministic_synth import fresh_process_environment, other_hash_seed, template_differences

# Enough strings that two hash seeds ordering a set of them alike is a chance of 1 in 20!.
WORDS = [f"word-{n}" for n in range(20)]
SET_ORDER = "import sys; print(','.join(set(sys.argv[1:])))"


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_text(content)
    return directory


def test_identical_templates_have_no_differences(tmp_path: Path) -> None:
    files = {"A.template.json": '{\n "Resources": {}\n}', "A.metadata.json": "x"}

    assert template_differences(write(tmp_path / "1", files), write(tmp_path / "2", files)) == []


def test_a_changed_byte_is_reported_with_its_line(tmp_path: Path) -> None:
    first = write(tmp_path / "1", {"A.template.json": '{\n "Key": "abc"\n}'})
    second = write(tmp_path / "2", {"A.template.json": '{\n "Key": "abd"\n}'})

    assert template_differences(first, second) == [
        'A.template.json: differs; line 2: \'"Key": "abc"\' != \'"Key": "abd"\''
    ]


def test_a_template_in_one_directory_only_is_reported(tmp_path: Path) -> None:
    first = write(tmp_path / "1", {"A.template.json": "{}", "B.template.json": "{}"})
    second = write(tmp_path / "2", {"A.template.json": "{}"})

    assert template_differences(first, second) == [f"B.template.json: only in {first}"]


def test_other_files_of_the_assembly_are_not_compared(tmp_path: Path) -> None:
    first = write(tmp_path / "1", {"A.template.json": "{}", "A.metadata.json": "jsii-kernel-1/lib"})
    second = write(tmp_path / "2", {"A.template.json": "{}", "A.metadata.json": "jsii-kernel-2/lib"})

    assert template_differences(first, second) == []


def test_two_empty_directories_are_a_difference_not_a_pass(tmp_path: Path) -> None:
    assert template_differences(write(tmp_path / "1", {}), write(tmp_path / "2", {}))


def test_the_fresh_process_gets_another_hash_seed() -> None:
    assert other_hash_seed(None) == "0"
    assert other_hash_seed("random") == "0"
    assert other_hash_seed("0") == "1"
    assert other_hash_seed("42") == "0"


def test_the_fresh_process_orders_a_set_of_strings_otherwise_than_this_one() -> None:
    """What makes set iteration order in a construct show up as a template difference."""
    here = subprocess.run(
        [sys.executable, "-c", SET_ORDER, *WORDS], capture_output=True, text=True, check=True
    ).stdout  # a process of its own: this one's seed may be fixed by the caller, as the fresh one's is
    fresh = subprocess.run(
        [sys.executable, "-c", SET_ORDER, *WORDS], env=fresh_process_environment(), capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip

    assert sorted(here.strip().split(",")) == sorted(fresh.strip().split(","))
    assert here != fresh
