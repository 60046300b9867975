"""Released migrations are never edited: each file's SHA-256 is pinned here.

A schema change is a new file ``data/migrations/m<NNNN>_<what>.py`` added to
``data.migrations.RELEASED``, with its hash pinned below in the same change.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from data.migrations import RELEASED, migration_names

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "data" / "migrations"

RELEASED_SHA256 = {
    "m0001_initial.py": "55bac32773d81ac11fee1dec50193b26706e1ce1083e3bc97b86a3e3c86aab28",
    "m0002_accounts_and_access.py": (
        "1157ff31efe19de2ff2367b2983932c55545c3a852602e38eb27a171182e22c0"
    ),
    "m0003_videos.py": "8154478882ff9f15331439cbd422af68781344ea7fefa963511d0dee20c94839",
    "m0004_groups.py": "aab51450d1a30a17bcf4f0de6a3dfc1ec81ac0dcb0be43209f8fd003f95d72ba",
    "m0005_interactive.py": "9a3d974a4dd4e01e90bf51fcb581c75150dd60db659174244f4cea5f5dd62c99",
    "m0006_running_servers.py": (
        "9565e9d3f7f88ae7cc9cb57b75d139d7867932605791c511a8703d6be98e03a0"
    ),
    "m0007_notifications.py": "723097821efa44ff1b7fb3c587b923756a720b293cca47c8bff7c7ab070d8568",
    "m0008_support.py": "c243a973c76558051270fc39304a4bcc1481a634cc79dced8b9a6789d5869546",
    "m0009_events.py": "6f74954ef007f96f72154e29c6994d1f191cc3c7ce8b083b40c55a3ed4786888",
}


@pytest.mark.parametrize("name", sorted(RELEASED_SHA256))
def test_released_migration_is_unchanged(name: str) -> None:
    digest = hashlib.sha256((MIGRATIONS_DIR / name).read_bytes()).hexdigest()
    assert digest == RELEASED_SHA256[name], (
        f"data/migrations/{name} was released and must not change; "
        "write the change as a new migration instead"
    )


def test_every_migration_file_is_registered_in_order() -> None:
    files = sorted(p.stem for p in MIGRATIONS_DIR.glob("m[0-9][0-9][0-9][0-9]_*.py"))
    registered = [module.__name__.rpartition(".")[2] for module in RELEASED]
    assert registered == files == migration_names()
    numbers = [int(name[1:5]) for name in registered]
    assert numbers == list(range(1, len(numbers) + 1)), "numbered 0001, 0002, ... without gaps"


def test_every_migration_is_pinned() -> None:
    assert set(RELEASED_SHA256) == {f"{name}.py" for name in migration_names()}
