"""Calls out to a provider at once, counted across every send worker: never more than its account takes.

Twilio refuses a request beyond an account's concurrency (HTTP 429, error 20429,
which would hold that text back for a retry). PROVIDER_SEND_THREADS is how many
calls one worker process may have out; PROVIDER_CONCURRENCY how many all of them
together may, whatever the number of worker processes. A round takes a lease per
call from a sorted set in Redis (each member scored by when its lease runs out)
before its transaction starts, so waiting for a lease never holds a procedure,
and gives them back once its calls have ended. A worker that stops mid-round
loses its leases when they run out. Without Redis (the embedded default, one
machine) there is nothing shared to count, and a Redis that does not answer does
not hold texts back: each process keeps its own bound (PROVIDER_SEND_THREADS), and
it asks Redis again only after portal.redis_guard's pause.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis
from django.conf import settings

from portal import redis_guard

from . import http

logger = logging.getLogger(__name__)


def lease_seconds() -> float:
    """Long enough for the slowest call the timeouts allow (connecting, then reading), with room to spare."""
    return 3 * max(http.TIMEOUT_SECONDS, settings.EMAIL_TIMEOUT)


# Between looks for a free lease, when every one is out.
PAUSE_SECONDS = 0.02

# KEYS[1]: the leases. ARGV[1]: how many may be out; ARGV[2]: a lease's length in ms; ARGV[3...]: new leases.
# Redis's own clock, so workers on several hosts agree on when a lease has run out.
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local taken = {}
for i = 3, math.min(#ARGV, free + 2) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[i])
  taken[#taken + 1] = ARGV[i]
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return taken
"""


def _client(url: str) -> redis.Redis:
    return redis_guard.client(url)


def _limit(provider: str) -> int:
    return settings.PROVIDER_CONCURRENCY.get(provider, 0) if settings.REDIS_URL else 0


def _key(provider: str) -> str:
    # Twilio counts per account; the mail relay per the server we send through.
    account = settings.TWILIO_ACCOUNT_SID if provider == "twilio" else f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    return f"marrow-ready:provider-calls:{provider}:{account}"


def take(provider: str, wanted: int, *, seconds: float | None = None) -> list[str]:
    """Up to `wanted` leases of `seconds` (lease_seconds()), as many as are free now (maybe none)."""
    names = [uuid.uuid4().hex for _ in range(wanted)]
    length = int((seconds or lease_seconds()) * 1000)
    taken = _client(settings.REDIS_URL).eval(_TAKE, 1, _key(provider), _limit(provider), length, *names)
    return [name.decode() for name in taken]


def give_back(provider: str, leases: list[str]) -> None:
    if leases:  # ZREM with no member is an error, not a no-op
        _client(settings.REDIS_URL).zrem(_key(provider), *leases)


def _pause() -> None:
    time.sleep(PAUSE_SECONDS * random.uniform(0.5, 1.5))  # noqa: S311 - spreading retries, not a secret


@contextmanager
def calls(provider: str, wanted: int, *, waiting: Callable[[], None] | None = None) -> Iterator[int]:
    """How many of `wanted` calls to `provider` may go out now: at least one, after waiting if none may.

    `waiting` is called between looks while every lease is out (the send task renews its own lease there).
    """
    if wanted < 1 or _limit(provider) < 1 or redis_guard.resting():
        yield wanted
        return
    try:
        leases = take(provider, wanted)
        while not leases:
            _pause()
            if waiting is not None:
                waiting()
            leases = take(provider, wanted)
    except redis.RedisError as error:
        redis_guard.failed(error)
        logger.warning("provider calls not counted across workers: Redis did not answer", exc_info=True)
        yield wanted
        return
    try:
        yield len(leases)
    finally:
        try:
            give_back(provider, leases)
        except redis.RedisError as error:
            redis_guard.failed(error)
            logger.warning("provider call leases left to run out: Redis did not answer", exc_info=True)
