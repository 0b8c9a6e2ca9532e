"""The nurses' work queue of messages that could not be applied."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.access import care_team_required
from portal.audit import audited
from portal.client import client_ip

from .fhir import outcome_json, process_fhir
from .intake import try_again
from .models import ApiToken, InboundMessage, MessageStatus, Protocol

PAGE_SIZE = 25
logger = logging.getLogger(__name__)


def _visible(request: HttpRequest) -> Any:
    return InboundMessage.objects.visible_to(request.user).select_related("system")


@audited()
@care_team_required
def message_list(request: HttpRequest) -> HttpResponse:
    queue = _visible(request).to_fix().defer("raw").order_by("received_at", "pk")
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "feed/message_list.html", {"page": page, "query": ""})


@audited(InboundMessage, patient="procedure__patient_id")
@care_team_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(_visible(request).select_related("procedure__patient"), pk=pk)
    return render(request, "feed/message_detail.html", {"message": message, "can_retry": _can_retry(message)})


def _can_retry(message: InboundMessage) -> bool:
    return message.status == MessageStatus.FAILED


@audited(InboundMessage, patient="procedure__patient_id")
@care_team_required
@require_POST
def message_retry(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(_visible(request), pk=pk)
    if not _can_retry(message):
        messages.info(request, _("This message no longer needs anything: it was applied or replaced."))
        return redirect("nurse:feed_message_detail", pk=message.pk)
    outcome = try_again(message)
    if outcome.status == MessageStatus.FAILED:
        messages.error(request, _("Still not applied: %(reason)s") % {"reason": outcome.reason})
        return redirect("nurse:feed_message_detail", pk=message.pk)
    messages.success(request, _("Applied. It has left the list."))
    return redirect("nurse:feed_message_list")


# --- FHIR ----------------------------------------------------------------------------------

FHIR_JSON = "application/fhir+json"
HTTP_STATUS = {
    MessageStatus.REJECTED: (400, "invalid"),
    MessageStatus.FAILED: (422, "processing"),
}


def _fhir_response(status: int, issues: list[tuple[str, str, str]], **headers: str) -> HttpResponse:
    response = HttpResponse(outcome_json(issues), status=status, content_type=FHIR_JSON)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _token(request: HttpRequest) -> ApiToken | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return ApiToken.find_active(value.strip())


def _fhir_receive(request: HttpRequest, *, expect: str) -> HttpResponse:
    if request.method != "POST":
        return _fhir_response(405, [("error", "not-supported", "Only POST is taken here.")], Allow="POST")
    token = _token(request)
    if token is None:
        return _fhir_response(
            401,
            [("error", "login", "A valid API token is needed: Authorization: Bearer <token>.")],
            WWW_Authenticate='Bearer realm="fhir"',
        )
    if request.content_type not in (FHIR_JSON, "application/json"):
        return _fhir_response(415, [("error", "not-supported", f"Send {FHIR_JSON}.")])
    try:
        body = request.body
    except RequestDataTooBig:
        return _fhir_response(413, [("error", "too-costly", "The request body is too large.")])
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    message = InboundMessage.objects.create(
        protocol=Protocol.FHIR, raw=body, system=token.system, peer=client_ip(request) or ""
    )
    outcome = process_fhir(message, expect=expect)
    if outcome.status in HTTP_STATUS:
        status, code = HTTP_STATUS[outcome.status]
        return _fhir_response(status, [("error", code, line) for line in outcome.reason.splitlines() or [""]])
    status = 201 if outcome.created else 200
    text = {201: "Booked.", 200: "Applied." if outcome.status == MessageStatus.APPLIED else "Nothing to change."}[
        status
    ]
    if outcome.reason:
        text = f"{text} {outcome.reason}"
    return _fhir_response(status, [("information", "informational", text)])


def _fhir_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A FHIR address: no CSRF (clients send tokens, not cookies), and even a failure is an OperationOutcome."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Exception:
            logger.exception("FHIR request failed", extra={"path": request.path})
            return _fhir_response(500, [("fatal", "exception", "An unexpected error stopped this request.")])

    return wrapper


@_fhir_endpoint
def fhir_bundle(request: HttpRequest) -> HttpResponse:
    return _fhir_receive(request, expect="Bundle")


@_fhir_endpoint
def fhir_appointment(request: HttpRequest) -> HttpResponse:
    return _fhir_receive(request, expect="Appointment")


@_fhir_endpoint
def fhir_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    return _fhir_response(
        404, [("error", "not-found", f"Nothing is served at /fhir/{path}: see /fhir/metadata for what is.")]
    )
