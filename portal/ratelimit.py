"""A small fixed-window rate limit per client address, kept in the cache (Redis in production)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from .audit import client_ip

View = Callable[..., HttpResponse]


def throttled(name: str, request: HttpRequest, *, per_minute: int) -> HttpResponse | None:
    """Count this request against its address's budget for `name`: a 429 once the budget is spent, else None."""
    window = int(time.time() // 60)
    key = f"ratelimit:{name}:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    if count <= per_minute:
        return None
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
