from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest


@receiver(user_logged_in)
def start_session_clock(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """The absolute session lifetime counts from the login (see SessionTimeoutMiddleware)."""
    if request is not None and hasattr(request, "session"):
        request.session["started_at"] = request.session["last_seen"] = int(time.time())


@receiver(user_logged_in)
def keep_language_chosen_before_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """A language picked on the login page becomes the user's saved language."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) if request is not None else None
    if chosen in dict(settings.LANGUAGES) and chosen != user.language:
        type(user).objects.filter(pk=user.pk).update(language=chosen)
        user.language = chosen
