"""Real Celery workers as subprocesses, on Redis, against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_worker(
    redis_url: str, queue: str, *extra: str, env: dict[str, str] | None = None, only: str | None = None
) -> subprocess.Popen:
    """A worker whose default queue is `queue`; it serves that and each channel's queue, or `only` one of them."""
    worker_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "integration-test-secret",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": queue,
        **(env or {}),
    }
    queues = only or ",".join([queue, f"{queue}-sms", f"{queue}-email"])
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=WARNING",
        "--without-gossip", "--without-mingle", "-Q", queues, "-n", f"{queue}-{time.monotonic_ns()}@%h", *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        worker.terminate()
    try:
        output, _ = worker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
    return output.decode(errors="replace")


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def wait_while_progressing(
    condition: Callable[[], bool], progress: Callable[[], object], stall: float = 60, limit: float = 900
) -> bool:
    """Wait for `condition` for as long as `progress()` keeps changing: fail only after `stall` seconds
    with no change (a stuck worker), or after `limit` in all. A busy machine makes work slow, not stuck."""
    hard = time.monotonic() + limit
    last, moved = progress(), time.monotonic()
    while time.monotonic() < hard:
        if condition():
            return True
        now = progress()
        if now != last:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > stall:
            return False
        time.sleep(0.2)
    return False
