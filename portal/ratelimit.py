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


def rate_limited(name: str, *, per_minute: int) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            window = int(time.time() // 60)
            key = f"ratelimit:{name}:{client_ip(request)}:{window}"
            cache.add(key, 0, timeout=120)
            try:
                count = cache.incr(key)
            except ValueError:  # evicted between add and incr
                cache.set(key, 1, timeout=120)
                count = 1
            if count > per_minute:
                message = _("Too many requests. Please wait a minute and try again.")
                response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
                response["Retry-After"] = "60"
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
