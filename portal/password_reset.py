"""Forgot your password: a link by email for everyone, a six-digit code by text for families.

Every answer is the same whether or not the address or number is on an account.
Links and codes go on the durable reminder path, made at the moment of sending,
so no row holds one. A new password ends every other session (Django checks a
session against the password it was opened with).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import audit, ratelimit
from .events import AccountMessage, account_message
from .forms import NewPasswordForm, ResetByEmailForm, ResetByTextForm, ResetCodeForm, posted
from .models import AuditAction, ResetCode, Role, User
from .phones import display as phone_display

logger = logging.getLogger(__name__)

ROUTE = "password_reset"
# Requests (by email or text) one address may make in a minute; a page load is never counted.
REQUESTS_PER_MINUTE = 5
# Codes one address may try in a minute, on top of each code's own few tries.
CODE_TRIES_PER_MINUTE = 10
# Links or codes one account is sent in an hour, whoever asks: nobody can flood a family's phone.
MESSAGES_PER_ACCOUNT_PER_HOUR = 3

SESSION_NUMBER = "password_reset_number"
SESSION_CODE = "password_reset_code"


# --- What happens -------------------------------------------------------------


def _send(message: AccountMessage, user: User, *, address: str, by_text: bool = False) -> None:
    account_message.send(sender=User, message=message, user=user, address=address, by_text=by_text)


def request_by_email(*, user: User | None, request: HttpRequest | None) -> None:
    """Someone asked for a link for `user` (None: the email is on no account). Recorded; sent within budget."""
    audit.record_auth(
        AuditAction.RESET_REQUESTED, request, user.pk if user else None, user.role if user else "", route=ROUTE
    )
    if user is None:
        return
    if ratelimit.over_budget(ROUTE, user.pk, per_hour=MESSAGES_PER_ACCOUNT_PER_HOUR):
        logger.info("password reset not sent: account over budget", extra={"user_id": user.pk})
        return
    _send(AccountMessage.PASSWORD_RESET, user, address=user.email)


def families_with_number(number: str) -> list[User]:
    """Family accounts that a texted code may reset: active, with a password chosen. Staff use email only."""
    # `guardian` is the family side of an account (procedures' Guardian): queried by name, not imported.
    users = User.objects.filter(guardian__mobile_number=number, is_active=True, role=Role.GUARDIAN)
    return [user for user in users if user.has_usable_password()]


def request_by_text(*, number: str, request: HttpRequest) -> None:
    """Someone asked for a code at `number` (E.164): one text per family account on it, within budget."""
    users = families_with_number(number)
    if not users:
        audit.record_auth(AuditAction.RESET_REQUESTED, request, None, route=ROUTE)
    for user in users:
        audit.record_auth(AuditAction.RESET_REQUESTED, request, user.pk, user.role, route=ROUTE)
        if ratelimit.over_budget(ROUTE, user.pk, per_hour=MESSAGES_PER_ACCOUNT_PER_HOUR):
            logger.info("password reset code not sent: account over budget", extra={"user_id": user.pk})
            continue
        _send(AccountMessage.PASSWORD_RESET_CODE, user, address=number, by_text=True)


def password_was_reset(*, user: User, request: HttpRequest) -> None:
    """After a new password is saved: recorded, log-in lockouts lifted, and the account's email told."""
    from axes.utils import reset as reset_lockouts

    audit.record_auth(AuditAction.RESET_DONE, request, user.pk, user.role, route=ROUTE)
    # The person proved they own the account; failed guesses before it must not keep them out.
    reset_lockouts(username=user.email)
    _send(AccountMessage.PASSWORD_CHANGED, user, address=user.email)
    logger.info("password reset", extra={"user_id": user.pk})


# --- By email: Django's views, with the link on the durable path ----------------


class _LinkMinutes:
    """Pages that say how long a link works, from the one setting that decides it."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "minutes": settings.PASSWORD_RESET_TIMEOUT // 60}


class ResetByEmailView(auth_views.PasswordResetView):
    form_class = ResetByEmailForm
    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = ratelimit.throttled(ROUTE, request, per_minute=REQUESTS_PER_MINUTE)
        return refused if refused is not None else super().post(request, *args, **kwargs)


class ResetSentView(_LinkMinutes, auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class ResetConfirmView(_LinkMinutes, auth_views.PasswordResetConfirmView):
    form_class = NewPasswordForm
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: NewPasswordForm) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            password_was_reset(user=form.user, request=self.request)
        return response


class ResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


# --- By text: number, code, new password -----------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def by_text(request: HttpRequest) -> HttpResponse:
    form = ResetByTextForm(posted(request))
    if request.method == "POST":
        refused = ratelimit.throttled(ROUTE, request, per_minute=REQUESTS_PER_MINUTE)
        if refused is not None:
            return refused
        if form.is_valid():
            number = form.cleaned_data["mobile_number"]
            with transaction.atomic():
                request_by_text(number=number, request=request)
            request.session[SESSION_NUMBER] = number
            request.session.pop(SESSION_CODE, None)
            return redirect("password_reset_code")
    return render(request, "registration/password_reset_text.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def enter_code(request: HttpRequest) -> HttpResponse:
    number = request.session.get(SESSION_NUMBER)
    if not isinstance(number, str):
        return redirect("password_reset_text")
    form = ResetCodeForm(posted(request))
    if request.method == "POST":
        refused = ratelimit.throttled("password_reset_code", request, per_minute=CODE_TRIES_PER_MINUTE)
        if refused is not None:
            return refused
        if form.is_valid():
            found = ResetCode.find_match(mobile_number=number, code=form.cleaned_data["code"])
            if found is not None:
                request.session[SESSION_CODE] = found.pk
                return redirect("password_reset_text_new")
            form.add_error("code", _wrong_code_message())
    context = {"form": form, "number": phone_display(number)}
    return render(request, "registration/password_reset_code.html", context)


def _wrong_code_message() -> str:
    # The same words whether the number is on an account or not.
    return _(
        "This code does not work. A code works for %(minutes)s minutes and stops after %(tries)s wrong tries. "
        "Check the text, or ask for a new code."
    ) % {"minutes": settings.PASSWORD_RESET_CODE_MINUTES, "tries": settings.PASSWORD_RESET_CODE_TRIES}


@never_cache
@require_http_methods(["GET", "POST"])
def new_password_by_text(request: HttpRequest) -> HttpResponse:
    code_id = request.session.get(SESSION_CODE)
    code = (
        ResetCode.objects.usable().select_related("user").filter(pk=code_id).first()
        if isinstance(code_id, int)
        else None
    )
    if code is None:
        request.session.pop(SESSION_CODE, None)
        return render(request, "registration/password_reset_code_invalid.html", status=410)
    form = NewPasswordForm(code.user, posted(request))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Claim the code first, so two quick clicks cannot both use it.
            if ResetCode.objects.usable().filter(pk=code.pk).update(used_at=timezone.now()) != 1:
                return render(request, "registration/password_reset_code_invalid.html", status=410)
            user = form.save()
            password_was_reset(user=user, request=request)
        request.session.pop(SESSION_CODE, None)
        request.session.pop(SESSION_NUMBER, None)
        return redirect("password_reset_complete")
    return render(request, "registration/password_reset_confirm.html", {"form": form, "validlink": True})
