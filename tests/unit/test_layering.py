"""The wiring sits above the jobs it wires: bootstrap imports jobs, never the reverse.

Checked on the source rather than `sys.modules`, because importing any `plugin_server`
module runs the package's `__init__`, which imports bootstrap anyway.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from plugin_server import jobs

PLUGIN_SERVER = Path(__file__).parents[2] / "plugin_server"
IMPORT_CALLS = ("import_module", "__import__")


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module `path` imports anywhere in it: at the top, inside functions, under
    TYPE_CHECKING, or through importlib with a literal name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            # `from plugin_server import bootstrap` names a module too.
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and called_name(node.func) in IMPORT_CALLS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def test_jobs_never_import_the_wiring() -> None:
    imports = imported_modules(PLUGIN_SERVER / "jobs.py", "plugin_server")
    assert "plugin_server.domain.errors" in imports  # the walk does see jobs' imports
    wiring = sorted(m for m in imports if m.split(".")[:2] == ["plugin_server", "bootstrap"])
    assert not wiring, f"plugin_server/jobs.py imports {wiring}; bootstrap must import jobs instead"


def test_the_import_check_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    source = tmp_path / "jobs.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .bootstrap import Container\n"
        "def f():\n"
        "    from plugin_server import bootstrap\n"
        "    importlib.import_module('plugin_server.settings')\n"
    )
    imports = imported_modules(source, "plugin_server")
    assert {
        "plugin_server.bootstrap",
        "plugin_server.bootstrap.Container",
        "plugin_server.settings",
    } <= imports


def test_a_worker_process_without_a_registered_container_says_how_to_start_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "_worker_container", None)
    with pytest.raises(RuntimeError, match="loyalty worker"):
        jobs.worker_container()
    registered = object()
    jobs.set_worker_container(registered)  # type: ignore[arg-type]
    assert jobs.worker_container() is registered
