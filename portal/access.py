"""Who may open a page: one side of the portal each. Anyone else gets the same 404 as for a missing page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def _only(allowed: Callable[[Any], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not allowed(request.user):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


care_team_required = _only(lambda user: user.is_care_team)
guardian_required = _only(lambda user: user.is_guardian)
