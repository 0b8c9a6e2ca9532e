"""Recording who saw or changed which patient's data. One row per request to a patient-data page."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .converters import MAX_ID
from .models import AuditAction, AuditEvent

logger = logging.getLogger(__name__)

# Pages whose responses show or change patient data. Keys are route names; the
# value names what the URL's pk points at.
OBJECT_ROUTES: dict[str, str] = {
    "nurse:procedure_detail": "procedure",
    "nurse:procedure_edit": "procedure",
    "nurse:procedure_cancel": "procedure",
    "nurse:procedure_running_late": "procedure",
    "nurse:procedure_done": "procedure",
    "nurse:procedure_create": "patient",
    "nurse:patient_detail": "patient",
    "nurse:patient_edit": "patient",
    "nurse:patient_access": "patient",
    "nurse:guardian_add": "patient",
    "nurse:guardian_detail": "guardian",
    "nurse:guardian_resend_invitation": "guardian",
    "nurse:guardian_sms_consent": "guardian",
    "nurse:reminder_resend": "reminder",
    "nurse:check_in_acknowledge": "symptomreport",
    "family:procedure": "procedure",
    "family:child": "patient",
    "family:fasting_card": "procedure",
    "family:acknowledge_fasting": "procedure",
    "family:confirm_contact": "procedure",
    "family:questions": "procedure",
    "family:question_delete": "procedure",
    "family:questions_print": "procedure",
    "family:calendar": "procedure",
    "family:check_in": "procedure",
    "nurse:feed_message_detail": "inboundmessage",
    "nurse:feed_message_retry": "inboundmessage",
}
LIST_ROUTES = {
    "nurse:procedure_list",
    "nurse:patient_list",
    "nurse:patient_create",
    "nurse:dashboard",
    "nurse:outbox",
    "family:dashboard",
    "family:text_question",
    "nurse:check_ins_acknowledge",
    "nurse:feed_message_list",
}


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: behind our proxy, the one it appended to X-Forwarded-For."""
    candidate = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_PROXY:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            candidate = forwarded[-1]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _patient_of(kind: str, pk: int) -> int | None:
    from procedures.feed.models import InboundMessage
    from procedures.models import Patient, Procedure, SymptomReport
    from reminders.models import Reminder

    lookups: dict[str, Any] = {
        "patient": Patient.objects.filter(pk=pk).values_list("pk", flat=True),
        "procedure": Procedure.objects.filter(pk=pk).values_list("patient_id", flat=True),
        "reminder": Reminder.objects.filter(pk=pk).values_list("procedure__patient_id", flat=True),
        "symptomreport": SymptomReport.objects.filter(pk=pk).values_list("procedure__patient_id", flat=True),
        "inboundmessage": InboundMessage.objects.filter(pk=pk).values_list("procedure__patient_id", flat=True),
    }
    query = lookups.get(kind)
    return query.first() if query is not None else None


def record(request: HttpRequest, response: HttpResponse) -> None:
    match = getattr(request, "resolver_match", None)
    route = match.view_name if match else ""
    if route not in OBJECT_ROUTES and route not in LIST_ROUTES:
        return
    user = request.user
    if not user.is_authenticated:
        return  # sent to the login page; nothing was shown
    kind = OBJECT_ROUTES.get(route, "")
    pk = match.kwargs.get("pk") if match else None
    if not isinstance(pk, int) or not 0 < pk <= MAX_ID:
        pk = None  # the URL converter already refuses these; the log must never fail a request
    denied = response.status_code == 404
    patient_id = _patient_of(kind, pk) if kind and pk and not denied else None
    if denied:
        action = AuditAction.DENIED
    elif request.method in ("GET", "HEAD"):
        action = AuditAction.VIEW
    else:
        action = AuditAction.CHANGE
    AuditEvent.objects.create(
        user_id=user.pk,
        role=user.role,
        action=action,
        route=route,
        method=request.method[:8],
        status=response.status_code,
        patient_id=patient_id,
        object_type=kind,
        object_id=pk,
        ip_address=client_ip(request),
    )


def record_auth(
    action: AuditAction, request: HttpRequest | None, user_id: int | None, role: str = "", *, route: str = ""
) -> None:
    AuditEvent.objects.create(
        user_id=user_id,
        role=role,
        action=action,
        route=route or ("login" if action != AuditAction.LOGOUT else "logout"),
        method=(request.method or "")[:8] if request is not None else "",
        ip_address=client_ip(request) if request is not None else None,
    )
