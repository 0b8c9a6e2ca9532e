"""A family page made once and shown again until anything on it changes, or the minute turns.

A kept page is found by who asks, the address, the language, the minute, and two
counters that PostgreSQL moves in the writer's own transaction whenever a row the
page shows is written (migration procedures 0012): one for this guardian's family,
one for what every family sees. The counters are read before anything the page
shows, so a kept page is never older than the counters it is kept under; any later
change moves them and the next request makes the page afresh. The fasting policy,
read from its own cache, is checked by that cache's version too.

What a kept page still does on every request: the sign-in and role checks (the
view's decorators run first), the audit row, and a fresh CSRF token in its forms.
Not kept: anything but a 200 to a GET, a page with a message waiting to be shown,
and a response that sets a cookie. Off on SQLite (no triggers) and without a shared
cache; if Redis does not answer, pages are made as usual.
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
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone, translation

from portal import audit

from .models import PageVersion
from .models import fasting_policy as policy_cache
from .models.page_version import EVERYONE, user_scope

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
# Longer than a minute (the minute is in the key); Redis drops what is no longer asked for.
KEEP_SECONDS = 90
# Where a form's CSRF token was, in a kept page; each response gets a token of its own.
_TOKEN = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')
_TOKEN_HOLE = rb"\1\0csrf\0\2"
_HOLE = b"\0csrf\0"
_VERSIONS = f"SELECT scope, version FROM {PageVersion._meta.db_table} WHERE scope IN (%s, %s)"  # noqa: S608 - the table from the model, values as parameters


def _store() -> Any:
    """The shared cache the pages are kept in, or None when this portal runs without one."""
    if not settings.PAGE_CACHE or connection.vendor != "postgresql":
        return None
    return policy_cache.shared_cache()


def versions(user_id: int) -> tuple[int, int]:
    """The counters for what every family sees and for this guardian's family (0 before any change)."""
    mine = user_scope(user_id)
    with connection.cursor() as cursor:  # on every request to a kept page: one plain statement
        cursor.execute(_VERSIONS, [EVERYONE, mine])
        found = dict(cursor.fetchall())
    return found.get(EVERYONE, 0), found.get(mine, 0)


def _key(request: HttpRequest) -> str:
    everyone, family = versions(request.user.pk)
    minute = int(timezone.now().timestamp() // 60)
    address = hashlib.blake2b(request.get_full_path().encode(), digest_size=12).hexdigest()
    return (
        f"page:{request.user.pk}:{everyone}:{family}:{minute}:{translation.get_language()}:"
        f"{timezone.get_current_timezone_name()}:{address}"
    )


def _keepable(request: HttpRequest) -> bool:
    return request.method == "GET" and not len(messages.get_messages(request))


def kept(view: View) -> View:
    """Keep the view's page for the family that asked, as long as nothing on it changes."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        store = _store()
        if store is None or not _keepable(request):
            return view(request, *args, **kwargs)
        key = _key(request)  # before the view reads anything
        try:
            found = store.get_many([key, policy_cache.VERSION_KEY])
            policy_version = policy_cache.cached_version(store, found)
        except Exception:
            logger.warning("Could not read kept pages; making the page", exc_info=True)
            return view(request, *args, **kwargs)
        entry = found.get(key)
        if entry is not None and entry["policy"] == policy_version:
            return _served(request, entry)
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            entry = {
                "policy": policy_version,
                "content": _TOKEN.sub(_TOKEN_HOLE, response.content),
                "content_type": response["Content-Type"],
                "shown": audit.shown_patient(request),  # (patient id,), or () if the view told the log nothing
            }
            try:
                store.set(key, entry, KEEP_SECONDS)
            except Exception:
                logger.warning("Could not keep a page", exc_info=True)
        return response

    return wrapped


def _served(request: HttpRequest, entry: dict[str, Any]) -> HttpResponse:
    content = entry["content"]
    if _HOLE in content:
        content = content.replace(_HOLE, get_token(request).encode())
    if entry["shown"]:
        audit.shown(request, *entry["shown"])
    return HttpResponse(content, content_type=entry["content_type"])
