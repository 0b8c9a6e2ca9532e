"""The nurses' work queue of messages that could not be applied."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.access import care_team_required
from portal.audit import audited
from portal.client import client_ip

from . import fhir_api, smart
from .apply import Outcome
from .booking import NotTaken
from .fhir import PreconditionFailed, fhir_base, outcome_json, process_fhir, version_of
from .intake import try_again
from .models import (
    ApiToken,
    ExternalAppointment,
    InboundMessage,
    MessageStatus,
    Protocol,
    SendingSystem,
    children_without_guardian,
)

PAGE_SIZE = 25
logger = logging.getLogger(__name__)


def _visible(request: HttpRequest) -> Any:
    return InboundMessage.objects.visible_to(request.user).select_related("system")


@audited()
@care_team_required
def message_list(request: HttpRequest) -> HttpResponse:
    queue = _visible(request).to_fix().defer("raw").order_by("received_at", "pk")
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    lonely = list(children_without_guardian(request.user)[:PAGE_SIZE])
    return render(request, "feed/message_list.html", {"page": page, "query": "", "without_guardian": lonely})


@audited(InboundMessage, patient="procedure__patient_id")
@care_team_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(_visible(request).select_related("procedure__patient"), pk=pk)
    return render(
        request,
        "feed/message_detail.html",
        {
            "message": message,
            "can_retry": _can_retry(message),
            "can_dismiss": message.status in (MessageStatus.FAILED, MessageStatus.REJECTED),
            "dismiss_form": DismissForm(),
        },
    )


def _can_retry(message: InboundMessage) -> bool:
    return message.status == MessageStatus.FAILED


class DismissForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it needs nothing more"),
        max_length=200,
        help_text=_("For example: booked by hand, or a test message."),
    )


@audited(InboundMessage, patient="procedure__patient_id")
@care_team_required
@require_POST
def message_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(_visible(request), pk=pk)
    form = DismissForm(request.POST)
    if message.status not in (MessageStatus.FAILED, MessageStatus.REJECTED):
        messages.info(request, _("This message no longer needs anything: it was applied or replaced."))
        return redirect("nurse:feed_message_detail", pk=message.pk)
    if not form.is_valid():
        messages.error(request, _("Say why the message needs nothing more (up to 200 characters)."))
        return redirect("nurse:feed_message_detail", pk=message.pk)
    # One update that only a waiting row takes: two nurses dismissing at once dismiss once.
    InboundMessage.objects.filter(pk=message.pk, status=message.status).update(
        status=MessageStatus.DISMISSED,
        dismissed_by=request.user,
        dismiss_reason=form.cleaned_data["reason"],
        handled_at=timezone.now(),
    )
    messages.success(request, _("Dismissed. It has left the list."))
    return redirect("nurse:feed_message_list")


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


def _json_response(status: int, body: str | dict[str, Any], **headers: str) -> HttpResponse:
    text = body if isinstance(body, str) else json.dumps(body)
    response = HttpResponse(text, status=status, content_type=FHIR_JSON)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _fhir_response(status: int, issues: list[tuple[str, str, str]], **headers: str) -> HttpResponse:
    return _json_response(status, outcome_json(issues), **headers)


def _token(request: HttpRequest) -> ApiToken | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return ApiToken.find_active(value.strip())


def _client(request: HttpRequest, *, write: bool) -> SendingSystem | HttpResponse:
    """The sending system a request comes from, or the answer that refuses it (no token, or too few scopes)."""
    token = _token(request)
    if token is None:
        return _fhir_response(
            401,
            [
                (
                    "error",
                    "login",
                    "A valid API token is needed: Authorization: Bearer <token> (a static token, or an access "
                    f"token from {smart.token_url()}; those expire).",
                )
            ],
            WWW_Authenticate='Bearer realm="fhir", error="invalid_token"',
        )
    action = smart.WRITE if write else smart.READ
    if not smart.allows(token.scopes, action):
        needed = f"system/Appointment.{action}"
        return _fhir_response(
            403,
            [("error", "forbidden", f"This access token's scopes ({token.scopes}) do not include {needed}.")],
            WWW_Authenticate=f'Bearer realm="fhir", error="insufficient_scope", scope="{needed}"',
        )
    if token.expires_at is None:  # an access token lives minutes: its use is not worth a write
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.system


def _body(request: HttpRequest) -> bytes | HttpResponse:
    if request.content_type not in (FHIR_JSON, "application/json"):
        return _fhir_response(415, [("error", "not-supported", f"Send {FHIR_JSON}.")])
    try:
        return request.body
    except RequestDataTooBig:
        return _fhir_response(413, [("error", "too-costly", "The request body is too large.")])


def _prefer(request: HttpRequest) -> str:
    """Prefer: return=minimal | representation | OperationOutcome (the default here)."""
    for part in request.headers.get("Prefer", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "return" and value.strip() in ("minimal", "representation"):
            return value.strip()
    return "OperationOutcome"


def _store(request: HttpRequest, system: SendingSystem, body: bytes) -> InboundMessage:
    return InboundMessage.objects.create(protocol=Protocol.FHIR, raw=body, system=system, peer=client_ip(request) or "")


def _refusal(outcome: Outcome) -> HttpResponse | None:
    if outcome.status not in HTTP_STATUS:
        return None
    status, code = HTTP_STATUS[outcome.status]
    return _fhir_response(status, [("error", code, line) for line in outcome.reason.splitlines() or [""]])


def _summary(outcome: Outcome) -> str:
    text = "Booked." if outcome.created else "Applied."
    if outcome.status == MessageStatus.UNCHANGED:
        text = "Nothing to change."
    return f"{text} {outcome.reason}".strip()


def _written(system: SendingSystem, message: InboundMessage) -> ExternalAppointment | None:
    """The appointment a write landed on, as an Appointment shows it."""
    if not message.filler_id:
        return None
    return fhir_api.appointments(system).filter(filler_id=message.filler_id).first()


def _version_headers(appointment: ExternalAppointment) -> dict[str, str]:
    return {
        "ETag": fhir_api.etag(appointment),
        "Last_Modified": http_date(fhir_api.last_updated(appointment).timestamp()),
    }


def _write(
    request: HttpRequest,
    system: SendingSystem,
    *,
    expect: str,
    target: ExternalAppointment | None = None,
) -> HttpResponse:
    body = _body(request)
    if isinstance(body, HttpResponse):
        return body
    message = _store(request, system, body)
    condition = request.headers.get("If-None-Exist") if target is None else None
    if expect == "Bundle":
        condition = _entry_condition(body)
    try:
        outcome = process_fhir(
            message, expect=expect, target=target, if_match=request.headers.get("If-Match"), if_none_exist=condition
        )
    except PreconditionFailed as exc:
        headers = {"ETag": exc.current} if exc.current else {}
        return _fhir_response(412, [("error", "conflict", exc.reason)], **headers)
    refused = _refusal(outcome)
    if refused is not None:
        return refused
    appointment = _written(system, message)
    status = 201 if outcome.created else 200
    if expect == "Bundle":
        return _json_response(200, _transaction_response(request, system, body, outcome, appointment, status))
    headers = _version_headers(appointment) if appointment is not None else {}
    if appointment is not None and (status == 201 or condition):
        headers["Location"] = fhir_api.location_of(appointment)
    prefer = _prefer(request)
    if prefer == "minimal":
        response = HttpResponse(status=status)
        for name, value in headers.items():
            response[name.replace("_", "-")] = value
        return response
    if prefer == "representation" and appointment is not None:
        return _json_response(status, fhir_api.one_json(system, appointment), **headers)
    return _fhir_response(status, [("information", "informational", _summary(outcome))], **headers)


def _entries(body: bytes) -> list[dict[str, Any]]:
    data = json.loads(body)
    entries = data.get("entry") if isinstance(data, dict) else None
    return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []


def _entry_condition(body: bytes) -> str | None:
    """Bundle.entry.request.ifNoneExist of the Appointment entry, when it has one."""
    try:
        entries = _entries(body)
    except (ValueError, RecursionError):
        return None
    for entry in entries:
        resource, request = entry.get("resource"), entry.get("request")
        if isinstance(resource, dict) and resource.get("resourceType") == "Appointment" and isinstance(request, dict):
            condition = request.get("ifNoneExist")
            return condition if isinstance(condition, str) and condition else None
    return None


def _transaction_response(
    request: HttpRequest,
    system: SendingSystem,
    body: bytes,
    outcome: Outcome,
    appointment: ExternalAppointment | None,
    status: int,
) -> dict[str, Any]:
    """One response entry per request entry, in their order (FHIR's transaction-response)."""
    representation = _prefer(request) == "representation"
    taken = json.loads(
        outcome_json([("information", "informational", "Taken as the child's details; not kept as a FHIR resource.")])
    )
    answer: list[dict[str, Any]] = []
    for entry in _entries(body):
        resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
        if resource.get("resourceType") == "Appointment":
            response: dict[str, Any] = {
                "status": "201 Created" if status == 201 else "200 OK",
                "outcome": json.loads(outcome_json([("information", "informational", _summary(outcome))])),
            }
            item: dict[str, Any] = {"response": response}
            if appointment is not None:
                response["location"] = fhir_api.location_of(appointment)
                response["etag"] = fhir_api.etag(appointment)
                response["lastModified"] = fhir_api.last_updated(appointment).isoformat()
                item["fullUrl"] = f"{fhir_base()}Appointment/{appointment.pk}"
                if representation:
                    item["resource"] = fhir_api.one_json(system, appointment)
            answer.append(item)
        else:
            answer.append({"response": {"status": "200 OK", "outcome": taken}})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": answer}


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


def _not_allowed(allowed: str) -> HttpResponse:
    return _fhir_response(405, [("error", "not-supported", f"Only {allowed} is taken here.")], Allow=allowed)


@_fhir_endpoint
def fhir_bundle(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _not_allowed("POST")
    system = _client(request, write=True)
    if isinstance(system, HttpResponse):
        return system
    return _write(request, system, expect="Bundle")


@_fhir_endpoint
def fhir_metadata(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _not_allowed("GET")
    return _json_response(200, fhir_api.capability_statement(token_url=smart.token_url()))


@_fhir_endpoint
def fhir_appointment(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return _not_allowed("GET, POST")
    system = _client(request, write=request.method == "POST")
    if isinstance(system, HttpResponse):
        return system
    if request.method == "POST":
        return _write(request, system, expect="Appointment")
    try:
        bundle, ignored = fhir_api.search(system, dict(request.GET.lists()))
    except NotTaken as exc:
        return _fhir_response(400, [("error", "invalid", exc.reason)])
    if ignored:
        note = json.loads(
            outcome_json([("warning", "not-supported", f"Not a search parameter here, ignored: {', '.join(ignored)}.")])
        )
        bundle["entry"].append({"resource": note, "search": {"mode": "outcome"}})
    return _json_response(200, bundle)


def _one(system: SendingSystem, pk: str) -> ExternalAppointment | None:
    if not pk.isdigit():
        return None
    return fhir_api.appointments(system).filter(pk=int(pk)).first()


def _gone(pk: str) -> HttpResponse:
    return _fhir_response(404, [("error", "not-found", f"No Appointment/{pk} here.")])


@_fhir_endpoint
def fhir_appointment_instance(request: HttpRequest, pk: str) -> HttpResponse:
    if request.method not in ("GET", "PUT"):
        return _not_allowed("GET, PUT")
    system = _client(request, write=request.method == "PUT")
    if isinstance(system, HttpResponse):
        return system
    appointment = _one(system, pk)  # another system's appointments are not found either
    if appointment is None:
        return _gone(pk)
    if request.method == "PUT":
        return _write(request, system, expect="Appointment", target=appointment)
    return _json_response(200, fhir_api.one_json(system, appointment), **_version_headers(appointment))


@_fhir_endpoint
def fhir_appointment_version(request: HttpRequest, pk: str, version: str) -> HttpResponse:
    if request.method != "GET":
        return _not_allowed("GET")
    system = _client(request, write=False)
    if isinstance(system, HttpResponse):
        return system
    appointment = _one(system, pk)
    if appointment is None:
        return _gone(pk)
    if version != str(version_of(appointment)):
        return _fhir_response(
            404, [("error", "not-found", f"Only the current version ({version_of(appointment)}) is kept.")]
        )
    return _json_response(200, fhir_api.one_json(system, appointment), **_version_headers(appointment))


@_fhir_endpoint
def smart_configuration(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _not_allowed("GET")
    response = JsonResponse(smart.configuration())
    return response


def _oauth(status: int, body: dict[str, Any]) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@_fhir_endpoint
def smart_token(request: HttpRequest) -> HttpResponse:
    """The OAuth 2.0 token endpoint of SMART Backend Services (client credentials, a signed JWT)."""
    if request.method != "POST":
        return _not_allowed("POST")
    if request.content_type != "application/x-www-form-urlencoded":
        return _oauth(400, {"error": "invalid_request", "error_description": "Send the form urlencoded."})
    try:
        grant = smart.issue(request.POST.dict())
    except smart.TokenError as exc:
        logger.info("SMART token refused", extra={"error": exc.error, "reason": exc.description})
        return _oauth(
            401 if exc.error == "invalid_client" else 400, {"error": exc.error, "error_description": exc.description}
        )
    return _oauth(
        200,
        {"access_token": grant.token, "token_type": "bearer", "expires_in": grant.expires_in, "scope": grant.scope},
    )


@_fhir_endpoint
def fhir_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    return _fhir_response(
        404, [("error", "not-found", f"Nothing is served at /fhir/{path}: see /fhir/metadata for what is.")]
    )
