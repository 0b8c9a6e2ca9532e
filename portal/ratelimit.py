"""Fixed-window rate limits kept in the cache (Redis in production), counted by django-ratelimit.

Per-address budgets are keyed by the one client-address rule (portal.client).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django_ratelimit.core import get_usage, is_ratelimited

from .client import client_ip

View = Callable[..., HttpResponse]


def _address(group: str, request: HttpRequest) -> str:
    return str(client_ip(request))


def spent(name: str, request: HttpRequest, *, per_minute: int) -> HttpResponse | None:
    """A 429 if this address has used its budget for `name` this minute, else None; this request is not counted.

    For budgets of failures (logins): look before trying, count with `throttled` only when it fails.
    """
    usage = get_usage(request, group=name, key=_address, rate=f"{per_minute}/m", increment=False)
    return _too_many() if usage is not None and usage["count"] >= usage["limit"] else None


def throttled(name: str, request: HttpRequest, *, per_minute: int) -> HttpResponse | None:
    """Count this request against its address's budget for `name`: a 429 once the budget is spent, else None."""
    limited = is_ratelimited(request, group=name, key=_address, rate=f"{per_minute}/m", increment=True)
    return _too_many() if limited else None


def over_budget(name: str, subject: object, *, per_hour: int) -> bool:
    """Count one use of `name` for `subject` (an account id, say) this hour: True once its budget is spent.

    For limits that must not show in the answer: the caller quietly does nothing.
    """
    # The key names the subject, not the request, so no request is needed (or may exist).
    return is_ratelimited(
        None, group=name, key=lambda group, request: str(subject), rate=f"{per_hour}/h", increment=True
    )


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
