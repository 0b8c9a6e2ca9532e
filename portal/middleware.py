from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from . import audit, two_factor

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


class SessionTimeoutMiddleware:
    """Log out after idle time (staff 15 min, families 30 min) and after an absolute lifetime."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            expired = self._expired(request, user)
            if expired:
                logout(request)
                messages.info(request, expired)
                return redirect_to_login(request.get_full_path())
        return self.get_response(request)

    @staticmethod
    def _expired(request: HttpRequest, user: object) -> str | None:
        now = int(time.time())
        session = request.session
        started = session.setdefault("started_at", now)
        last_seen = session.get("last_seen", now)
        idle_limit = settings.STAFF_IDLE_MINUTES if user.is_care_team else settings.FAMILY_IDLE_MINUTES
        if now - last_seen > idle_limit * 60:
            return _("You were logged out after %(minutes)s minutes without activity.") % {"minutes": idle_limit}
        if now - started > settings.SESSION_ABSOLUTE_HOURS * 3600:
            return _("For safety, please log in again.")
        # A page refreshing itself (the nurse dashboard) is not the user being active.
        background = request.headers.get("X-Background-Refresh") == "1"
        if not background and (now - last_seen >= 30 or "last_seen" not in session):  # a write a half-minute
            session["last_seen"] = now
        return None


class AuditMiddleware:
    """Append an audit event for every request to a page with patient data (see portal.audit)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        audit.record(request, response)
        return response


class TwoFactorMiddleware:
    """Staff (and families who turned it on) pass a one-time code before any other page."""

    ALLOWED = ("two_factor_verify", "two_factor_setup", "logout", "set_language", "healthz")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not user.is_verified():
            try:
                name = resolve(request.path_info).url_name
            except Resolver404:
                name = None
            exempt = name in self.ALLOWED or request.path_info.startswith(settings.STATIC_URL)
            required = request.session.get("two_step_required")  # set at login (portal.signals)
            if required is None:
                required = two_factor.required_for(user)
            if not exempt and required:
                return redirect_to_login(request.get_full_path(), login_url="two_factor_verify")
        return self.get_response(request)
