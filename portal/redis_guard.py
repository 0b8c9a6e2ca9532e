"""Redis as a helper that may fall silent: every caller waits at most a short timeout, once.

A Redis that refuses connections fails at once. One that accepts and never
answers (swapping, overloaded, a half-open network path) makes each call wait
for its socket timeout. So every client of Redis in the portal uses the short
timeouts below, and after one such failure this process leaves Redis alone for
REDIS_RETRY_SECONDS: each caller then does without it at once (a page made
afresh, a session read from the database, a rate limit not counted, provider
calls bounded per process). The first call after the pause tries again.
Nothing the portal must not lose lives only in Redis: the database is the record.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

T = TypeVar("T")

_lock = threading.Lock()
_quiet_until = 0.0


def options() -> dict[str, object]:
    """Connection options for every Redis client of the portal (cache, provider slots, health).

    No retries: redis-py retries a timed-out call three times by default, which turns the
    short timeout into four of them.
    """
    seconds = settings.REDIS_TIMEOUT_SECONDS
    return {
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        "health_check_interval": 30,
        "retry": Retry(NoBackoff(), 0),
    }


def resting() -> bool:
    """True while this process leaves Redis alone after a failure."""
    return time.monotonic() < _quiet_until


def failed(error: BaseException) -> None:
    global _quiet_until
    with _lock:
        first = not resting()
        _quiet_until = time.monotonic() + settings.REDIS_RETRY_SECONDS
    if first:
        logger.warning("Redis did not answer; doing without it for a while", extra={"error": type(error).__name__})


def recovered() -> None:
    global _quiet_until
    _quiet_until = 0.0


def attempt(call: Callable[[], T], fallback: T) -> T:
    """call(), or `fallback` at once while Redis rests, or after call() failed on Redis."""
    if resting():
        return fallback
    try:
        return call()
    except redis.RedisError as error:
        failed(error)
        return fallback


@functools.cache
def client(url: str) -> redis.Redis:
    """A client with the short timeouts; redis-py's pool opens new connections in a forked worker process."""
    return redis.Redis.from_url(url, **options())


def ping(url: str) -> str:
    """'ok', 'not answering' (a timeout) or 'unreachable' (refused, unknown host): one try, within the timeout."""
    try:
        redis.Redis.from_url(url, **options(), single_connection_client=True).ping()
    except redis.TimeoutError:
        return "not answering"
    except redis.RedisError:
        return "unreachable"
    return "ok"
