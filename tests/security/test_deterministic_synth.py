"""Guard: two synths of the same commit give byte-identical templates, for every environment.

One side is the session's own synth (tests/conftest.py), the other a new process (one jsii start
for every environment, queued on the background lane when the session starts) with another
hash seed, another output directory and a later clock (tests/support/deterministic_synth.py):
a template that depends on set order, time, paths or chance differs between them, and a deploy
of an unchanged commit would then change stacks. The cloud assembly's *.metadata.json and
validation-report.json are not compared: they carry the jsii kernel's temporary paths, and
CloudFormation never sees them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import ENVIRONMENT_NAMES, Synthesized
from tests.support.deterministic_synth import FreshProcessSynth, template_differences


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_a_second_synth_of_the_same_commit_gives_byte_identical_templates(
    environment: str, synthesized: Callable[[str], Synthesized], second_synth: FreshProcessSynth
) -> None:
    first = synthesized(environment).assembly_directory

    differences = template_differences(first, second_synth.directories()[environment])

    assert not differences, "\n".join(differences)
