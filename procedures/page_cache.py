"""A page made once and shown again until anything on it changes, or the minute turns.

A kept page is found by who asks, the address, the language, the minute, what else
the view says it depends on (a search held in the session), and counters that
PostgreSQL moves in the writer's own transaction whenever a row the page shows is
written. A family page (migration procedures 0012): one for this guardian's family,
one for what every family sees. A nurse page (0013): also one for each clinic the
nurse sees, one for the care team's accounts and the nurse's own; those move as the
writer commits, within its commit. The counters are read before
anything the page shows, so a kept page is never older than the counters it is kept
under; any later change moves them and the next request makes the page afresh. The
fasting policy is one of what every family sees: a write to its table, by whatever
means, moves that counter.

What a kept page still does on every request: the sign-in and role checks (the
view's decorators run first), the audit row, and a fresh CSRF token in its forms.
Not kept: anything but a 200 to a GET, a page with a message waiting to be shown,
and a response that sets a cookie. Off on SQLite (no triggers) and without a shared
cache; if Redis does not answer (portal.cache), pages are made as usual.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone, translation

from portal import audit, metrics
from portal.models import Role

from .models import Location, PageVersion
from .models.page_version import CARE_TEAM, EVERYONE, LOCATION_PREFIX, user_scope

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
# Longer than a minute (the minute is in the key); Redis drops what is no longer asked for.
KEEP_SECONDS = 90
# Where a form's CSRF token was, in a kept page; each response gets a token of its own.
_TOKEN = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')
_TOKEN_HOLE = rb"\1\0csrf\0\2"
_HOLE = b"\0csrf\0"
# Values a view hands on to the request that is served its kept page (as this attribute of the response).
KEPT_VALUES = "kept_values"
# The tables from the models; every value a parameter.
_COUNTERS = f"SELECT scope, version FROM {PageVersion._meta.db_table} WHERE scope IN (%s, %s"  # noqa: S608
_MEMBERS = Location.nurses.through._meta.db_table
_FAMILY = _COUNTERS + ")"
_NURSE = _COUNTERS + f", %s) OR scope IN (SELECT %s || location_id FROM {_MEMBERS} WHERE user_id = %s)"  # noqa: S608
_ADMIN = _COUNTERS + ", %s) OR scope LIKE %s"


def _store() -> Any:
    """The shared cache the pages are kept in, or None when this portal runs without one."""
    if not settings.PAGE_CACHE or connection.vendor != "postgresql":
        return None
    store = caches["default"]
    # A process-local cache would keep a page that another process's change made stale.
    return None if isinstance(store, (LocMemCache, DummyCache)) else store


def _counters(statement: str, values: list[object]) -> str:
    with connection.cursor() as cursor:  # on every request to a kept page: one plain statement
        cursor.execute(statement, values)
        found = sorted(cursor.fetchall())
    return ",".join(f"{scope}={version}" for scope, version in found)


def family_versions(user: Any) -> str:
    """The counters for what every family sees and for this guardian's family (none before any change)."""
    return _counters(_FAMILY, [EVERYONE, user_scope(user.pk)])


def care_team_versions(user: Any) -> str:
    """The counters for what every page sees, the care team's accounts, this nurse, and each clinic they see.

    A clinic whose counter has never moved has none: when it moves, the set read changes.
    """
    if user.role == Role.ADMIN:  # every clinic, as procedures.models.base.scoped rules
        return _counters(_ADMIN, [EVERYONE, CARE_TEAM, user_scope(user.pk), LOCATION_PREFIX + "%"])
    return _counters(_NURSE, [EVERYONE, CARE_TEAM, user_scope(user.pk), LOCATION_PREFIX, user.pk])


def _key(request: HttpRequest, versions: Callable[[Any], str], vary: Callable[[HttpRequest], str] | None) -> str:
    counters = hashlib.blake2b(versions(request.user).encode(), digest_size=12).hexdigest()
    minute = int(timezone.now().timestamp() // 60)
    asked = request.get_full_path() + ("\0" + vary(request) if vary is not None else "")
    address = hashlib.blake2b(asked.encode(), digest_size=12).hexdigest()
    return (
        f"page:{request.user.pk}:{counters}:{minute}:{translation.get_language()}:"
        f"{timezone.get_current_timezone_name()}:{address}"
    )


def _keepable(request: HttpRequest) -> bool:
    return request.method == "GET" and not len(messages.get_messages(request))


def kept(
    view: View | None = None,
    *,
    versions: Callable[[Any], str] = family_versions,
    vary: Callable[[HttpRequest], str] | None = None,
) -> Any:
    """Keep the view's page for the user who asked, as long as nothing on it changes.

    `versions`: the counters of what the page shows (a family's by default; `care_team_versions`).
    `vary`: what else in the request the page depends on, beside its address and the user.
    """
    if view is None:
        return lambda view: _kept(view, versions, vary)
    return _kept(view, versions, vary)


def _kept(view: View, versions: Callable[[Any], str], vary: Callable[[HttpRequest], str] | None) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        store = _store()
        if store is None or not _keepable(request):
            return view(request, *args, **kwargs)
        key = _key(request, versions, vary)  # before the view reads anything
        try:
            entry = store.get(key)
        except Exception:
            logger.warning("Could not read kept pages; making the page", exc_info=True)
            return view(request, *args, **kwargs)
        if entry is not None:
            _count(request, "kept")
            return _served(request, entry)
        _count(request, "made")
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            entry = {
                "content": _TOKEN.sub(_TOKEN_HOLE, response.content),
                "content_type": response["Content-Type"],
                "shown": audit.shown_patient(request),  # (patient id,), or () if the view told the log nothing
                "values": getattr(response, KEPT_VALUES, None),
            }
            try:
                store.set(key, entry, KEEP_SECONDS)
            except Exception:
                logger.warning("Could not keep a page", exc_info=True)
        return response

    return wrapped


def _count(request: HttpRequest, outcome: str) -> None:
    match = getattr(request, "resolver_match", None)
    metrics.KEPT_PAGES.labels(route=(match.view_name if match else "") or "unmatched", outcome=outcome).inc()


def _served(request: HttpRequest, entry: dict[str, Any]) -> HttpResponse:
    content = entry["content"]
    if _HOLE in content:
        content = content.replace(_HOLE, get_token(request).encode())
    if entry["shown"]:
        audit.shown(request, *entry["shown"])
    response = HttpResponse(content, content_type=entry["content_type"])
    setattr(response, KEPT_VALUES, entry.get("values"))
    return response
