from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import CancelForm, GuardianForm, PatientForm, ProcedureFilterForm, ProcedureForm
from .models import Guardian, Location, Patient, Procedure

PAGE_SIZE = 25

View = Callable[..., HttpResponse]


def care_team_required(view: View) -> View:
    """Staff pages. Anyone else gets the same 404 as for a missing page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_care_team:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def guardian_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_guardian:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _procedures_for(user: Any) -> Any:
    return Procedure.objects.visible_to(user).select_related("patient", "location")


# --- Nurse side -----------------------------------------------------------------


@care_team_required
def procedure_list(request: HttpRequest) -> HttpResponse:
    form = ProcedureFilterForm(request.GET or None, user=request.user)
    procedures = _procedures_for(request.user).upcoming()
    if form.is_valid():
        data = form.cleaned_data
        if data["location"]:
            procedures = procedures.filter(location=data["location"])
        if data["day"]:
            procedures = _on_local_day(procedures, data["day"], data["location"])
        procedures = procedures.search(data["q"])
    page = Paginator(procedures, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "procedures/nurse/procedure_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "has_locations": form.fields["location"].queryset.exists(),
        },
    )


def _on_local_day(procedures: Any, day: dt.date, location: Location | None) -> Any:
    """Procedures starting on a calendar day in their own clinic's time zone."""
    locations = [location] if location else Location.objects.filter(pk__in=procedures.values("location"))
    condition = Q(pk__in=[])
    for loc in locations:
        start = dt.datetime.combine(day, dt.time.min, tzinfo=loc.tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=loc.tz)
        condition |= Q(location=loc, scheduled_start__gte=start, scheduled_start__lt=end)
    return procedures.filter(condition)


@care_team_required
def patient_list(request: HttpRequest) -> HttpResponse:
    term = request.GET.get("q", "").strip()[:100]
    patients = Patient.objects.visible_to(request.user).select_related("location")
    if term:
        patients = patients.filter(Q(mrn__iexact=term) | Q(first_name__icontains=term) | Q(last_name__icontains=term))
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({"q": term}) if term else ""
    return render(request, "procedures/nurse/patient_list.html", {"page": page, "q": term, "query": query})


@care_team_required
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    form = PatientForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        patient = form.save()
        messages.success(request, _("Child added. Next, add a parent or guardian."))
        return redirect("nurse:patient_detail", pk=patient.pk)
    return render(request, "procedures/nurse/form.html", {"form": form, "title": _("Add a child")})


@care_team_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.visible_to(request.user), pk=pk)
    form = PatientForm(request.POST or None, instance=patient, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Changes saved."))
        return redirect("nurse:patient_detail", pk=patient.pk)
    return render(request, "procedures/nurse/form.html", {"form": form, "title": _("Edit child"), "patient": patient})


@care_team_required
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(
        Patient.objects.visible_to(request.user)
        .select_related("location")
        .prefetch_related(
            Prefetch("guardians", queryset=Guardian.objects.select_related("user")),
            Prefetch("procedures", queryset=Procedure.objects.select_related("location").order_by("-scheduled_start")),
        ),
        pk=pk,
    )
    return render(request, "procedures/nurse/patient_detail.html", {"patient": patient})


@care_team_required
@require_http_methods(["GET", "POST"])
def guardian_add(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.visible_to(request.user), pk=pk)
    form = GuardianForm(request.POST or None, initial={"language": patient.preferred_language})
    if request.method == "POST" and form.is_valid():
        try:
            result = services.add_guardian(patient=patient, added_by=request.user, **form.cleaned_data)
        except services.GuardianConflict as conflict:
            if str(conflict) == "already_linked":
                form.add_error("email", _("This person is already a guardian of this child."))
            else:
                form.add_error("email", _("This email belongs to a staff account. Use the family's own email."))
        else:
            if result.invited:
                messages.success(request, _("Guardian added. An invitation email is on its way."))
            else:
                messages.success(request, _("This person already has an account and is now linked to this child."))
            return redirect("nurse:patient_detail", pk=patient.pk)
    return render(
        request,
        "procedures/nurse/form.html",
        {"form": form, "title": _("Add a parent or guardian"), "patient": patient},
    )


@care_team_required
def guardian_detail(request: HttpRequest, pk: int) -> HttpResponse:
    guardian = get_object_or_404(
        Guardian.objects.visible_to(request.user)
        .select_related("user")
        .prefetch_related(Prefetch("patients", queryset=Patient.objects.visible_to(request.user))),
        pk=pk,
    )
    invitation = guardian.user.invitations.order_by("-created_at").first()
    return render(
        request,
        "procedures/nurse/guardian_detail.html",
        {"guardian": guardian, "invitation": invitation, "now": timezone.now()},
    )


@care_team_required
@require_POST
def guardian_resend_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    guardian = get_object_or_404(Guardian.objects.visible_to(request.user).select_related("user"), pk=pk)
    if guardian.user.has_usable_password():
        messages.info(request, _("This guardian has already set a password."))
    else:
        services.send_invitation(user=guardian.user, invited_by=request.user)
        messages.success(request, _("A new invitation email is on its way. Earlier links no longer work."))
    return redirect("nurse:guardian_detail", pk=guardian.pk)


@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.visible_to(request.user).select_related("location"), pk=pk)
    initial = {"location": patient.location}
    form = ProcedureForm(request.POST or None, user=request.user, initial=initial, submit_label=_("Schedule"))
    if request.method == "POST" and form.is_valid():
        procedure = services.schedule_procedure(patient=patient, scheduled_by=request.user, **form.procedure_fields())
        messages.success(request, _("Procedure scheduled."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    return render(
        request,
        "procedures/nurse/form.html",
        {"form": form, "title": _("Schedule a procedure"), "patient": patient},
    )


def _nurse_procedure(request: HttpRequest, pk: int) -> Procedure:
    return get_object_or_404(_procedures_for(request.user), pk=pk)


@care_team_required
def procedure_detail(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _nurse_procedure(request, pk)
    guardians = Guardian.objects.filter(patients=procedure.patient).select_related("user")
    return render(request, "procedures/nurse/procedure_detail.html", {"procedure": procedure, "guardians": guardians})


@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_edit(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _nurse_procedure(request, pk)
    if not procedure.is_active:
        messages.error(request, _("A cancelled or completed procedure cannot be changed."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    form = ProcedureForm(
        request.POST or None,
        user=request.user,
        initial=ProcedureForm.initial_for(procedure),
        submit_label=_("Save changes"),
    )
    if request.method == "POST" and form.is_valid():
        before = procedure.version
        procedure = services.update_procedure(procedure=procedure, changed_by=request.user, **form.procedure_fields())
        if procedure.version != before:
            messages.success(request, _("Procedure changed. The family will see the new details."))
        else:
            messages.success(request, _("Changes saved."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    return render(
        request,
        "procedures/nurse/form.html",
        {"form": form, "title": _("Edit or reschedule"), "patient": procedure.patient, "procedure": procedure},
    )


@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _nurse_procedure(request, pk)
    if not procedure.is_active:
        messages.info(request, _("This procedure is not active."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.cancel_procedure(procedure=procedure, reason=form.cleaned_data["reason"], cancelled_by=request.user)
        messages.success(request, _("Procedure cancelled."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    return render(
        request,
        "procedures/nurse/form.html",
        {"form": form, "title": _("Cancel procedure"), "patient": procedure.patient, "procedure": procedure},
    )


# --- Family side ----------------------------------------------------------------


@guardian_required
def family_dashboard(request: HttpRequest) -> HttpResponse:
    procedures = _procedures_for(request.user).upcoming().order_by("scheduled_start")
    children = Patient.objects.visible_to(request.user).order_by("first_name")
    return render(request, "procedures/family/dashboard.html", {"procedures": procedures, "children": children})


@guardian_required
def family_procedure(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = get_object_or_404(_procedures_for(request.user), pk=pk)
    return render(request, "procedures/family/procedure_detail.html", {"procedure": procedure})


@guardian_required
def family_child(request: HttpRequest, pk: int) -> HttpResponse:
    child = get_object_or_404(Patient.objects.visible_to(request.user), pk=pk)
    procedures = child.procedures.select_related("location").order_by("-scheduled_start")
    return render(request, "procedures/family/child.html", {"child": child, "procedures": procedures})
