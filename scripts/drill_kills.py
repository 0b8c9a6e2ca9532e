"""The long kill drill: SIGKILL a send worker three times over mixed texts and emails, then count.

    python scripts/drill_kills.py [families] [runs]

Each family has one text and one email due (default 500 families: 1,000
messages), sent by two real Celery workers through a fake Twilio API and a fake
mail server over real sockets, each provider taking two calls at once (so the
workers wait their turn). Prints, for each run: lost, duplicated, unknown (and
how many of those never reached a provider: must be 0), and how long after their
due time every message was settled. Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    families = sys.argv[1] if len(sys.argv) > 1 else "500"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    env = {**os.environ, "KILL_DRILL_FAMILIES": families}
    test = "tests/reminders/test_kill_drill.py::test_the_long_drill_three_kills_over_mixed_texts_and_emails"
    status = 0
    for _ in range(runs):
        command = [sys.executable, "-m", "pytest", "-q", test]
        status |= subprocess.call(command, cwd=ROOT, env=env)  # noqa: S603 - our own test, by its name
    return status


if __name__ == "__main__":
    sys.exit(main())
