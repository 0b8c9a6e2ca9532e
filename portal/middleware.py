from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_cache_control

logger = logging.getLogger("portal.request")


class RequestLogMiddleware:
    """One structured line per request: route name, status, user id, timing.

    The route's name is logged rather than the path, and never the query
    string, so search terms (a child's name, an MRN) stay out of the logs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        user = getattr(request, "user", None)
        logger.info(
            "request",
            extra={
                "method": request.method,
                "route": match.view_name if match else None,
                "status": response.status_code,
                "user_id": user.pk if user is not None and user.is_authenticated else None,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response


class UserLanguageMiddleware:
    """A logged-in user's saved language wins over the browser's.

    Runs after authentication; the language switch saves the choice on the
    user (see portal.views.set_language), so the two never disagree.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)


class NoStoreForSignedInMiddleware:
    """Pages seen while logged in may hold patient data: no browser or proxy may keep a copy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response
