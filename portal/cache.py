"""Django's Redis cache, made to do without Redis rather than fail the request (see portal.redis_guard).

Every operation answers as an empty cache would when Redis is resting or does
not answer within its timeout: a read finds nothing, a write keeps nothing,
`incr` finds no counter (django-ratelimit then lets the request through, as
RATELIMIT_FAIL_OPEN says).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from . import redis_guard


def _missing(key: Any) -> None:
    raise ValueError(f"Key {key!r} not found.")


class _GuardedClient(RedisCacheClient):
    def add(self, key: Any, value: Any, timeout: Any) -> bool:
        return redis_guard.attempt(lambda: super(_GuardedClient, self).add(key, value, timeout), False)

    def get(self, key: Any, default: Any) -> Any:
        return redis_guard.attempt(lambda: super(_GuardedClient, self).get(key, default), default)

    def set(self, key: Any, value: Any, timeout: Any) -> None:
        redis_guard.attempt(lambda: super(_GuardedClient, self).set(key, value, timeout), None)

    def touch(self, key: Any, timeout: Any) -> bool:
        return redis_guard.attempt(lambda: super(_GuardedClient, self).touch(key, timeout), False)

    def delete(self, key: Any) -> bool:
        return redis_guard.attempt(lambda: super(_GuardedClient, self).delete(key), False)

    def get_many(self, keys: Any) -> dict[Any, Any]:
        return redis_guard.attempt(lambda: super(_GuardedClient, self).get_many(keys), {})

    def has_key(self, key: Any) -> bool:
        return redis_guard.attempt(lambda: super(_GuardedClient, self).has_key(key), False)

    def incr(self, key: Any, delta: int) -> int:
        found = redis_guard.attempt(lambda: super(_GuardedClient, self).incr(key, delta), None)
        return _missing(key) if found is None else found

    def set_many(self, data: Any, timeout: Any) -> None:
        redis_guard.attempt(lambda: super(_GuardedClient, self).set_many(data, timeout), None)

    def delete_many(self, keys: Any) -> None:
        redis_guard.attempt(lambda: super(_GuardedClient, self).delete_many(keys), None)

    def clear(self) -> bool:
        return redis_guard.attempt(lambda: super(_GuardedClient, self).clear(), False)


class GuardedRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        # The guard's timeouts and no retries, unless the settings name others.
        params = {**params, "OPTIONS": {**redis_guard.options(), **params.get("OPTIONS", {})}}
        super().__init__(server, params)
        self._class = _GuardedClient
