"""Recording who saw or changed which patient's data. One row per request to a patient-data page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Model
from django.http import HttpRequest, HttpResponse

from .access import View
from .client import client_ip
from .converters import MAX_ID
from .models import AuditAction, AuditEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shows:
    """What a page shows, declared by the view with `@audited(...)`: the log reads it from there.

    `model` is what the URL's pk points at (None: a list or a form with no one object),
    `patient` the path from that object to its child's id (for the patient column; "" when it has none).
    """

    model: type[Model] | None = None
    patient: str = "pk"

    @property
    def object_type(self) -> str:
        return self.model._meta.model_name if self.model is not None else ""

    def patient_of(self, pk: int) -> int | None:
        if self.model is None or not self.patient:
            return None
        return self.model._default_manager.filter(pk=pk).values_list(self.patient, flat=True).first()


def audited(model: type[Model] | None = None, *, patient: str = "pk") -> Callable[[View], View]:
    """Mark a view as showing or changing patient data: every request to it is logged."""

    def decorator(view: View) -> View:
        view.audit = Shows(model, patient)  # type: ignore[attr-defined]
        return view

    return decorator


# Set by `shown` on the request: the child whose data the view has already loaded.
_SHOWN_PATIENT = "audit_patient_id"


def shown(request: HttpRequest, patient_id: int | None) -> None:
    """A view that has loaded the object tells the log whose it is, sparing the log a query to find out."""
    setattr(request, _SHOWN_PATIENT, patient_id)


def shown_patient(request: HttpRequest) -> tuple[int | None, ...]:
    """What `shown` was told for this request: (patient id,), or () if nothing (a kept page carries it over)."""
    return (getattr(request, _SHOWN_PATIENT),) if hasattr(request, _SHOWN_PATIENT) else ()


def record(request: HttpRequest, response: HttpResponse) -> None:
    match = getattr(request, "resolver_match", None)
    shows: Shows | None = getattr(match.func, "audit", None) if match else None
    if shows is None:
        return
    route = match.view_name
    user = request.user
    if not user.is_authenticated:
        return  # sent to the login page; nothing was shown
    kind = shows.object_type
    pk = match.kwargs.get("pk")
    if not isinstance(pk, int) or not 0 < pk <= MAX_ID:
        pk = None  # the URL converter already refuses these; the log must never fail a request
    denied = response.status_code == 404
    patient_id = None
    if pk and not denied:
        patient_id = getattr(request, _SHOWN_PATIENT) if hasattr(request, _SHOWN_PATIENT) else shows.patient_of(pk)
    if denied:
        action = AuditAction.DENIED
    elif request.method in ("GET", "HEAD"):
        action = AuditAction.VIEW
    else:
        action = AuditAction.CHANGE
    AuditEvent.append(
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
    AuditEvent.append(
        user_id=user_id,
        role=role,
        action=action,
        route=route or ("login" if action != AuditAction.LOGOUT else "logout"),
        method=(request.method or "")[:8] if request is not None else "",
        ip_address=client_ip(request) if request is not None else None,
    )
