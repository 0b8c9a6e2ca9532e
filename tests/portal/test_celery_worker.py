"""Tasks go through a real Celery worker on Redis and land in PostgreSQL."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest

from portal.models import Heartbeat
from portal.tasks import heartbeat
from tests.workers import start_worker, stop, wait_for

pytestmark = [pytest.mark.integration]


@pytest.fixture
def queue_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def worker(transactional_db, postgres, redis_url, queue_name) -> Iterator[subprocess.Popen]:
    process = start_worker(redis_url, queue_name)
    yield process
    print(stop(process)[-3000:])


def test_a_task_sent_through_redis_is_run_by_the_worker_and_saved_in_postgres(worker, queue_name):
    name = f"probe-{queue_name}"
    heartbeat.apply_async(args=[name], queue=queue_name)
    assert wait_for(lambda: Heartbeat.objects.filter(name=name).exists()), "the worker never ran the task"
    assert Heartbeat.objects.get(name=name).beats == 1


def test_beat_runs_the_periodic_heartbeat(transactional_db, postgres, redis_url, queue_name):
    process = start_worker(redis_url, queue_name, "--beat", env={"HEARTBEAT_SECONDS": "1"})
    try:
        assert wait_for(lambda: Heartbeat.objects.filter(name="beat", beats__gte=2).exists(), 60), (
            "beat did not schedule the heartbeat twice"
        )
    finally:
        print(stop(process)[-3000:])
