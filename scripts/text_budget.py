"""Print every kind of text x language with the longest real values: characters, encoding, segments, before and after.

SECRET_KEY=x .venv/bin/python scripts/text_budget.py [--texts]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from reminders.text_budget import measure  # noqa: E402


def main() -> None:
    rows = measure()
    print(
        "| text | lang | before: chars, encoding, segments | after: chars, encoding, segments "
        "| all accents kept | budget |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        b, a = row.before, row.after
        print(
            f"| {row.label} | {row.language} | {b.characters}, {b.encoding}, {b.segments} "
            f"| {a.characters}, {a.encoding}, {a.segments} "
            f"| {row.accented.encoding}, {row.accented.segments} | {row.budget} |"
        )
    if "--texts" in sys.argv:
        for row in rows:
            print(f"\n--- {row.label} ({row.language}): {row.after.segments} segments\n{row.text}")


if __name__ == "__main__":
    main()
