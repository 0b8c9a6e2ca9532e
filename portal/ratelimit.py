"""A small fixed-window rate limit per client address, kept in the cache (Redis in production)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from .client import client_ip

View = Callable[..., HttpResponse]


def _key(name: str, request: HttpRequest) -> str:
    window = int(time.time() // 60)
    return f"ratelimit:{name}:{client_ip(request)}:{window}"


def spent(name: str, request: HttpRequest, *, per_minute: int) -> HttpResponse | None:
    """A 429 if this address has used its budget for `name` this minute, else None; this request is not counted.

    For budgets of failures (logins): look before trying, count with `throttled` only when it fails.
    """
    return _too_many() if (cache.get(_key(name, request)) or 0) >= per_minute else None


def _count(key: str, *, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def throttled(name: str, request: HttpRequest, *, per_minute: int) -> HttpResponse | None:
    """Count this request against its address's budget for `name`: a 429 once the budget is spent, else None."""
    return None if _count(_key(name, request), timeout=120) <= per_minute else _too_many()


def over_budget(name: str, subject: object, *, per_hour: int) -> bool:
    """Count one use of `name` for `subject` (an account id, say) this hour: True once its budget is spent.

    For limits that must not show in the answer: the caller quietly does nothing.
    """
    window = int(time.time() // 3600)
    return _count(f"ratelimit:{name}:{subject}:{window}", timeout=7200) > per_hour


def _too_many() -> HttpResponse:
    message = _("Too many requests. Please wait a minute and try again.")
    response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "60"
    return response


def rate_limited(name: str, *, per_minute: int) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            limited = throttled(name, request, per_minute=per_minute)
            return limited if limited is not None else view(request, *args, **kwargs)

        return wrapped

    return decorator
