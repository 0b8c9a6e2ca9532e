from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from . import audit, two_factor
from .models import AuditAction


@receiver(user_logged_in)
def start_session_clock(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """The absolute session lifetime counts from the login (see SessionTimeoutMiddleware)."""
    if request is not None and hasattr(request, "session"):
        request.session["started_at"] = request.session["last_seen"] = int(time.time())
        # Whether this login must pass a one-time code, decided once rather than on every request.
        request.session["two_step_required"] = two_factor.required_for(user)


@receiver(user_logged_in)
def keep_language_chosen_before_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """A language picked on the login page becomes the user's saved language."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) if request is not None else None
    if chosen in dict(settings.LANGUAGES) and chosen != user.language:
        type(user).objects.filter(pk=user.pk).update(language=chosen)
        user.language = chosen


@receiver(user_logged_in)
def audit_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit.record_auth(AuditAction.LOGIN, request, user.pk, user.role)


@receiver(user_logged_out)
def audit_logout(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record_auth(AuditAction.LOGOUT, request, user.pk, user.role)


@receiver(user_login_failed)
def audit_failed_login(sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # The typed email is not stored; the account's id is, when it exists.
    from .models import User

    email = str(credentials.get("username", ""))[:254]
    user = User.objects.filter(email__iexact=email).only("pk", "role").first() if email else None
    audit.record_auth(AuditAction.LOGIN_FAILED, request, user.pk if user else None, user.role if user else "")
