"""The apps depend one way: portal <- procedures <- reminders (see ARCHITECTURE.md).

Read from the source, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["portal", "procedures", "reminders"]  # each may import only the ones before it
# Where the apps meet: the project's URLconf mounts every app's pages. Nothing else in portal names them.
COMPOSITION_ROOT = {Path("portal/urls.py")}


def imported_apps(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


def violations(root: Path) -> list[str]:
    found = []
    for rank, app in enumerate(LAYERS):
        above = set(LAYERS[rank + 1 :])
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root)
            if relative in COMPOSITION_ROOT:
                continue
            for other in sorted(imported_apps(path.read_text()) & above):
                found.append(f"{relative} imports {other}")
    return found


def test_dependencies_run_one_way():
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("app", "line", "other"),
    [
        ("procedures", "from reminders.planning import sync_reminders", "reminders"),
        ("procedures", "def f():\n    import reminders.models\n", "reminders"),
        ("portal", "from procedures.models import Guardian", "procedures"),
        ("portal", "from reminders import consent", "reminders"),
    ],
)
def test_an_import_against_the_direction_is_caught(tmp_path, app, line, other):
    for name in LAYERS:
        (tmp_path / name).mkdir()
    (tmp_path / app / "module.py").write_text(line)
    assert violations(tmp_path) == [f"{app}/module.py imports {other}"]


def test_reminders_may_use_what_is_below_it(tmp_path):
    for name in LAYERS:
        (tmp_path / name).mkdir()
    (tmp_path / "reminders" / "module.py").write_text("from procedures.models import Procedure\nimport portal.models\n")
    assert violations(tmp_path) == []


def test_the_portal_refuses_to_start_when_nothing_plans_reminders_after_a_change():
    from django.core import checks

    from procedures import events
    from reminders import receivers

    assert "procedures.E001" not in {message.id for message in checks.run_checks()}
    events.procedure_changed.disconnect(dispatch_uid="reminders")
    try:
        assert "procedures.E001" in {message.id for message in checks.run_checks()}
    finally:
        receivers.connect()
    assert events.procedure_changed.has_listeners()
