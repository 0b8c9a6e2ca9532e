"""Tasks go through a real Celery worker on Redis and land in PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from portal.models import Heartbeat
from portal.tasks import heartbeat

pytestmark = [pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _start_worker(redis_url: str, queue: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    worker_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "integration-test-secret",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": queue,
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "-Q",
        queue,
        *extra,
    ]
    return subprocess.Popen(command, cwd=ROOT, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for(condition, seconds: float = 45) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def _stop(worker: subprocess.Popen) -> str:
    worker.terminate()
    try:
        output, _ = worker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
    return output.decode(errors="replace")


@pytest.fixture
def queue_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def worker(transactional_db, postgres, redis_url, queue_name) -> Iterator[subprocess.Popen]:
    process = _start_worker(redis_url, queue_name)
    yield process
    print(_stop(process)[-3000:])


def test_a_task_sent_through_redis_is_run_by_the_worker_and_saved_in_postgres(worker, queue_name):
    name = f"probe-{queue_name}"
    heartbeat.apply_async(args=[name], queue=queue_name)
    assert _wait_for(lambda: Heartbeat.objects.filter(name=name).exists()), "the worker never ran the task"
    assert Heartbeat.objects.get(name=name).beats == 1


def test_beat_runs_the_periodic_heartbeat(transactional_db, postgres, redis_url, queue_name):
    process = _start_worker(redis_url, queue_name, "--beat", env={"HEARTBEAT_SECONDS": "1"})
    try:
        assert _wait_for(lambda: Heartbeat.objects.filter(name="beat", beats__gte=2).exists(), 60), (
            "beat did not schedule the heartbeat twice"
        )
    finally:
        print(_stop(process)[-3000:])
