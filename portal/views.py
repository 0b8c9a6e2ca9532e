from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import events, ratelimit, redis_guard
from .forms import ChoosePasswordForm, LoginForm, posted
from .models import Invitation, User
from .ratelimit import rate_limited

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect("login")
    # The apps above say where people start (procedures: their dashboards; reminders: a question first).
    choices = [answer for _, answer in events.landing.send(sender=User, user=user) if answer]
    if not choices:
        raise PermissionDenied  # an account with no side of the portal to see
    return redirect(max(choices)[1])


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Each dependency's state, for load balancers, compose and the operations team; never waits long.

    503 only when the database is unreachable (nothing works without it). Redis away is "degraded":
    pages are still served, made afresh, so the web container stays in rotation.
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        logger.exception("health check failed")
        checks["database"] = "unreachable"
    if settings.REDIS_URL:
        checks["redis"] = redis_guard.ping(settings.REDIS_URL)
    for _receiver, answer in events.health.send(sender=User):
        checks.update(answer or {})
    if checks["database"] != "ok":
        return JsonResponse({"status": "error", **checks}, status=503)
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks})


# Failed logins one address may make in a minute. Only failures count: a hospital's
# shared outgoing address opens the page and logs in successfully all day.
LOGIN_FAILURES_PER_MINUTE = 30


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        refused = ratelimit.spent("login", request, per_minute=LOGIN_FAILURES_PER_MINUTE)
        if refused is not None:
            return refused
        response = super().post(request, *args, **kwargs)
        if response.status_code != 302:  # the form came back: a failed attempt
            ratelimit.throttled("login", request, per_minute=LOGIN_FAILURES_PER_MINUTE)
        return response


@never_cache
@rate_limited("invitation", per_minute=20)
@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = Invitation.find_usable(token)
    if invitation is None:
        return render(request, "registration/invitation_invalid.html", status=410)
    form = ChoosePasswordForm(invitation.user, posted(request))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Claim the link first, so two quick clicks cannot both use it.
            claimed = Invitation.objects.usable().filter(pk=invitation.pk).update(used_at=timezone.now())
            if claimed != 1:
                return render(request, "registration/invitation_invalid.html", status=410)
            user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        logger.info("invitation accepted", extra={"user_id": user.pk, "invitation_id": invitation.pk})
        messages.success(request, _("Welcome! Your password is saved."))
        return redirect("home")
    return render(request, "registration/accept_invitation.html", {"form": form, "invited": invitation.user})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch language; a logged-in user keeps the choice for emails and messages too."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        User.objects.filter(pk=request.user.pk).update(language=language)
        request.user.language = language
    return i18n_views.set_language(request)
