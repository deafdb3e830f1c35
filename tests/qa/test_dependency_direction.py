"""DESIGN.md principle 15: imports point from api to relay to stats to policy, never back.

`policy` imports nothing from Tidings and no I/O; `stats` may use `policy`; `relay` uses
`policy` and `stats` and reaches `api` only from its composition root; `api` uses `stats`,
`policy`, `relay.store` and `relay.tokens`. Packages not written yet are simply absent.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("policy", "stats", "relay", "api")
#: Modules that wire the roles together and so may import every package.
COMPOSITION_ROOTS = frozenset({"relay.cli", "relay.roles"})
#: Stdlib modules that do I/O, wait, or depend on the clock or the process.
IO_MODULES = frozenset(
    {
        "asyncio", "io", "os", "pathlib", "shutil", "socket", "ssl", "select", "selectors",
        "subprocess", "threading", "multiprocessing", "concurrent", "time", "random",
        "logging", "sqlite3", "http", "urllib", "smtplib", "email", "tempfile", "signal",
    }
)  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every dotted name a module imports; `from a import b` yields `a.b`, so a prefix
    rule on `a.b` also sees names taken from a package's `__init__`."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, package)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    anchor = ".".join(parts[: len(parts) - node.level + 1])
    return f"{anchor}.{node.module}" if node.module else anchor


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def violations(module: str, names: set[str]) -> list[str]:
    """The imports of `module` that go against the direction; empty when it complies."""
    top = module.split(".")[0]
    ours = {name for name in names if _under(name, PACKAGES)}
    if top == "policy":
        bad = {n for n in names if not _under(n, ("policy",)) and not _stdlib_pure(n)}
    elif top == "stats":
        bad = {n for n in ours if not _under(n, ("stats", "policy"))}
    elif top == "relay" and module not in COMPOSITION_ROOTS:
        bad = {n for n in ours if _under(n, ("api",))}
    elif top == "api":
        allowed = ("api", "stats", "policy", "relay.store", "relay.tokens")
        bad = {n for n in ours if not _under(n, allowed)}
    else:
        bad = set()
    return sorted(bad)


def _stdlib_pure(name: str) -> bool:
    top = name.split(".")[0]
    return top == "__future__" or (top in sys.stdlib_module_names and top not in IO_MODULES)


SOURCES = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def test_the_walk_finds_the_tree():
    names = {module_name(path) for path in SOURCES}
    assert {"policy.stages", "policy.verdict", "relay.smtp.replies"} <= names


def test_the_walk_sees_real_imports():
    path = ROOT / "relay/smtp/replies.py"
    names = imported_names(path.read_text(), "relay.smtp.replies")
    assert "policy.verdict.Rule" in names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_dependency_direction(path):
    module = module_name(path)
    names = imported_names(path.read_text(), module, is_package=path.name == "__init__.py")
    assert violations(module, names) == []


@pytest.mark.parametrize(
    ("module", "source", "bad"),
    [
        ("policy.stages", "from relay.smtp import replies", ["relay.smtp.replies"]),
        ("policy.stages", "import stats.events", ["stats.events"]),
        ("policy.rate", "import asyncio", ["asyncio"]),
        ("policy.rate", "import redis", ["redis"]),
        ("policy.rate", "from time import monotonic", ["time.monotonic"]),
        ("policy.rate", "def f():\n    import socket", ["socket"]),
        ("policy.rate", "from .verdict import Rule\nimport ipaddress", []),
        ("stats.query", "from relay.keys import QUEUE", ["relay.keys.QUEUE"]),
        ("stats.query", "from api import app", ["api.app"]),
        ("stats.query", "from policy.facts import AccountRules\nimport redis", []),
        ("relay.smtp.handler", "from api.app import create_app", ["api.app.create_app"]),
        ("relay.smtp.handler", "from stats import recorder\nfrom policy import stages", []),
        ("relay.cli", "from api.app import create_app", []),
        ("relay.roles", "import api.app", []),
        ("api.routes.stats", "from relay.queue import enqueue", ["relay.queue.enqueue"]),
        ("api.routes.stats", "from relay import settings", ["relay.settings"]),
        ("api.routes.stats", "import relay", ["relay"]),
        ("api.deps", "from relay.store.accounts import get\nfrom relay import tokens", []),
        ("api.deps", "from stats.query import logs\nfrom ..schemas import Page", []),
    ],
)
def test_violations_are_detected(module, source, bad):
    assert violations(module, imported_names(source, module)) == bad


@pytest.mark.parametrize(
    ("module", "is_package", "source", "expected"),
    [
        ("relay.smtp.handler", False, "from ..store import accounts", "relay.store.accounts"),
        ("relay.smtp.handler", False, "from . import replies", "relay.smtp.replies"),
        ("relay.smtp", True, "from .replies import R250_OK", "relay.smtp.replies.R250_OK"),
        ("api.routes.stats", False, "from .. import deps", "api.deps"),
    ],
)
def test_relative_imports_are_resolved(module, is_package, source, expected):
    assert imported_names(source, module, is_package=is_package) == {expected}
