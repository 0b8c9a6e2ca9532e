"""Parallel test workers never share a Redis database, and never go past the ones Redis has."""

from __future__ import annotations

import pytest

from .parallel import redis_url_for_worker, worker_number


def test_each_worker_counts_up_from_the_database_redis_url_names():
    urls = [redis_url_for_worker("redis://127.0.0.1:6379/1", n) for n in range(4)]
    assert urls == [f"redis://127.0.0.1:6379/{n}" for n in (1, 2, 3, 4)]
    assert redis_url_for_worker("redis://:secret@redis:6380", 2) == "redis://:secret@redis:6380/2"
    assert redis_url_for_worker("redis://127.0.0.1:6379/8", None) == "redis://127.0.0.1:6379/8"
    assert redis_url_for_worker("", 3) == ""


def test_a_worker_past_the_sixteenth_database_is_refused_with_what_to_do():
    assert redis_url_for_worker("redis://127.0.0.1:6379/12", 3).endswith("/15")
    with pytest.raises(ValueError, match="past the 16 Redis has"):
        redis_url_for_worker("redis://127.0.0.1:6379/12", 4)
    with pytest.raises(ValueError, match="in the path"):
        redis_url_for_worker("redis://127.0.0.1:6379?db=3", 1)


def test_worker_numbers_come_from_xdist_names():
    assert [worker_number(name) for name in ("gw0", "gw7", "master", "")] == [0, 7, None, None]
