"""The repository speaks of itself alone: no file in it points at documents that are not
part of the product (the ``seeds/`` design notes a compatible system came from). Code,
docs and messages name a compatible system by its name (SyncPlay Backend, StreamIt,
Watch Party) instead.

This file is the one exception: it names the pattern in order to look for it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Text files of the repository, by suffix; plus files without one in these folders.
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".js", ".css", ".html", ".sh", ".json", ".cfg"}
#: Folders that are not the product's: the venv, caches, git, build output.
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", "media"}

#: A path into the design notes, "the seeds' ..." (their stack, their paths), or "the seed
#: systems", in any case.
OUTSIDE_REFERENCE = re.compile(r"\bseeds?/|\bseeds'|\bseed systems?\b", re.IGNORECASE)


def repository_text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(p in SKIP_DIRS or p.endswith(".egg-info") or p.startswith(".pytest") for p in parts):
            continue
        if not path.is_file() or path == Path(__file__).resolve():
            continue
        if path.suffix in TEXT_SUFFIXES or (path.suffix == "" and parts[0] in (".ci", "tools")):
            files.append(path)
    return files


def test_the_scan_sees_the_whole_repository() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in repository_text_files()}
    for expected in (
        "README.md",
        ".ci/run",
        "admin_app/videos/routes.py",
        "sync_server/transport.py",
        "data/migrations/m0001_initial.py",
        "docs/cli.md",
        "bench/README.md",
    ):
        assert expected in names


def test_no_file_refers_to_the_design_notes() -> None:
    found = []
    for path in repository_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_REFERENCE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "references to documents outside the repository:\n" + "\n".join(found)


def test_the_pattern_catches_what_it_must() -> None:
    assert OUTSIDE_REFERENCE.search("Rooms over REST (seeds/003)")
    assert OUTSIDE_REFERENCE.search("on the seeds' stack")
    assert OUTSIDE_REFERENCE.search("Seeds/000 task 2: one reaction per account")
    assert OUTSIDE_REFERENCE.search("the seed systems' cleanup_rooms command")
    assert not OUTSIDE_REFERENCE.search("Measured over these 200 seeds: worst 2.9 ms")
