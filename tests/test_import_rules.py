"""The direction of dependencies, checked over the source's ``import`` statements (``ast``).

* ``protocol/`` and ``data/`` import neither server (``sync_server``, ``admin_app``);
  ``protocol/`` never imports trio (it is sans-IO), and in ``data/`` only ``db.py`` does.
* ``admin_app`` imports nothing from ``sync_server``: the two servers share
  ``protocol/control.py`` and ``protocol/settings.py``.
* ``sync_server`` uses the web app through its package entry points only
  (``from admin_app import serve_web``), never its modules.
* ``admin_app/core/`` knows no domain.
* A domain (``admin_app/<domain>/``) reaches another only through its ``service`` module.

Imports inside functions count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "data", "sync_server", "admin_app")
#: Modules of admin_app that assemble the domains: they may import any of them.
COMPOSITION_ROOT = {"admin_app", "admin_app.app", "admin_app.serve"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every module *path* imports, absolute, with its line: ``from a.b import c``
    yields ``a.b.c`` when that is a module of this repository, else ``a.b``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if is_module(candidate) else base


def all_imports() -> list[tuple[str, str, int, str]]:
    """``(importer, file, line, imported)`` for every import in the four packages."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, imported in imported_modules(path):
                found.append((module_name(path), str(path.relative_to(ROOT)), line, imported))
    return found


IMPORTS = all_imports()


def top(name: str) -> str:
    return name.partition(".")[0]


def domain_of(name: str) -> str | None:
    """The admin_app domain package of module *name* (``core`` included), or None."""
    parts = name.split(".")
    if parts[0] != "admin_app" or len(parts) < 2 or not is_module(f"admin_app.{parts[1]}"):
        return None
    if not (ROOT / "admin_app" / parts[1] / "__init__.py").is_file():
        return None  # a module of the composition root, not a package
    return parts[1]


def violations(rule: str) -> list[str]:
    bad = []
    for importer, file, line, imported in IMPORTS:
        if broken(rule, importer, imported, file):
            bad.append(f"{file}:{line} imports {imported}")
    return bad


def broken(rule: str, importer: str, imported: str, file: str) -> bool:
    if rule == "protocol and data import neither server":
        return top(importer) in ("protocol", "data") and top(imported) in (
            "sync_server",
            "admin_app",
        )
    if rule == "protocol is sans-IO":
        return top(importer) == "protocol" and top(imported) in ("trio", "trio_websocket")
    if rule == "only data/db.py imports trio in data":
        return top(importer) == "data" and top(imported) == "trio" and importer != "data.db"
    if rule == "admin_app imports nothing from sync_server":
        return top(importer) == "admin_app" and top(imported) == "sync_server"
    if rule == "sync_server uses admin_app's entry points only":
        return (
            top(importer) == "sync_server"
            and top(imported) == "admin_app"
            and (imported != "admin_app")
        )
    if rule == "core knows no domain":
        target = domain_of(imported)
        return (
            domain_of(importer) == "core"
            and top(imported) == "admin_app"
            and (target != "core" or imported in COMPOSITION_ROOT)
        )
    if rule == "domains meet through services":
        mine, theirs = domain_of(importer), domain_of(imported)
        if mine in (None, "core") or theirs in (None, "core") or mine == theirs:
            return False
        return imported != f"admin_app.{theirs}.service"
    raise AssertionError(rule)


RULES = [
    "protocol and data import neither server",
    "protocol is sans-IO",
    "only data/db.py imports trio in data",
    "admin_app imports nothing from sync_server",
    "sync_server uses admin_app's entry points only",
    "core knows no domain",
    "domains meet through services",
]


@pytest.mark.parametrize("rule", RULES)
def test_import_rule(rule: str) -> None:
    assert violations(rule) == [], rule


def test_the_checker_sees_imports() -> None:
    """The rules above are not vacuous: the checker resolves relative imports and
    ``from package import module``."""
    seen = {(importer, imported) for importer, _, _, imported in IMPORTS}
    assert ("admin_app.rooms.routes", "admin_app.videos.service") in seen
    assert ("admin_app.rooms.routes", "admin_app.rooms.service") in seen
    assert ("admin_app.app", "admin_app.auth") in seen
    assert ("sync_server.control", "protocol.control") in seen
    assert broken(
        "domains meet through services", "admin_app.rooms.routes", "admin_app.videos.routes", ""
    )
    assert broken("core knows no domain", "admin_app.core.state", "admin_app.auth.service", "")
