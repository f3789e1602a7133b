"""A content-addressed cache of build outputs on this machine, for the synth's slow steps.

Each entry is `<cache>/<key>/content`, where the key names everything its content is made
from. An entry is built in a staging directory beside it and renamed into place, with a
manifest of its files' hashes written last and checked on every use: an interrupted build
leaves no entry (at most a `.<key>.*` staging directory, never read), and an entry that lost,
gained or changed a file is rebuilt. Folio keeps its caches under `.make/`, which git ignores
and `make clean` removes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

# Written last into an entry: the hash of every file of its content.
MANIFEST = "manifest.json"
CONTENT = "content"


def _manifest(content: Path) -> str:
    files = sorted(p for p in content.rglob("*") if p.is_file())
    return json.dumps({str(p.relative_to(content)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files})


def _is_complete(entry: Path) -> bool:
    manifest = entry / MANIFEST
    return manifest.is_file() and manifest.read_text() == _manifest(entry / CONTENT)


def cached_build(cache: Path, key: str, build: Callable[[Path], None]) -> Path:
    """`cache/key/content`, made by `build(directory)` first if it is missing or damaged."""
    entry = cache / key
    if _is_complete(entry):
        return entry / CONTENT
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache))
    try:
        build(staging / CONTENT)
        (staging / MANIFEST).write_text(_manifest(staging / CONTENT))
        shutil.rmtree(entry, ignore_errors=True)  # an incomplete or damaged entry
        try:
            staging.rename(entry)
        except OSError:
            if not _is_complete(entry):  # else another process renamed the same build first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entry / CONTENT


def unpacked_package(cache: Path, package: Path, digest: str, members: tuple[str, ...]) -> Path:
    """The `package/` directory of an npm tarball (`package`, whose SHA-256 is `digest`) with only
    the members whose paths start with one of `members`, unpacked once per machine into `cache`."""

    def unpack(content: Path) -> None:
        with tarfile.open(package) as archive:
            wanted = [member for member in archive if member.name.startswith(members)]
            archive.extractall(content, members=wanted, filter="data")

    key = hashlib.sha256((digest + repr(members)).encode()).hexdigest()[:32]
    return cached_build(cache, key, unpack) / "package"
