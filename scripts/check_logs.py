#!/usr/bin/env python
"""Fail if a log file holds the demo children's surnames, dates of birth or MRNs.

`make test` runs the suite with LOG_FILE set, then this script over that file:
health data must never reach the logs.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def forbidden() -> set[str]:
    from reminders.management.commands.load_demo_data import CHILDREN

    words: set[str] = set()
    for mrn, _first, last, born, *_rest in CHILDREN:
        words |= {mrn, last, born.isoformat(), born.strftime("%m/%d/%Y")}
    return words


def main(path: str) -> int:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    log = Path(path)
    if not log.exists():
        print(f"check_logs: {path} does not exist", file=sys.stderr)
        return 1
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    hits = [(n, word) for n, line in enumerate(lines, 1) for word in forbidden() if word.lower() in line.lower()]
    for n, word in hits[:20]:
        print(f"{path}:{n}: contains {word!r}", file=sys.stderr)
    print(f"check_logs: {len(lines)} log lines scanned for {len(forbidden())} demo identifiers, {len(hits)} found")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/test-run.log"))
