"""The nurse's pages: lists, a child, a procedure and its changes, the dashboard."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from crispy_forms.layout import Hidden
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import care_team_required
from portal.audit import audited
from portal.converters import MAX_ID
from portal.forms import posted
from portal.models import AuditEvent, User
from portal.paging import page_of

from .. import aftercare, events, intake, outcomes, page_cache, readiness, services
from .. import dashboard as dashboard_queries
from ..forms.family import IntakeForm
from ..forms.nurse import (
    CancelForm,
    DoneForm,
    GuardianForm,
    OutcomeForm,
    PatientForm,
    ProcedureFilterForm,
    ProcedureForm,
    RunningLateForm,
)
from ..models import (
    Guardian,
    Location,
    Patient,
    Procedure,
    SymptomReport,
)
from ..selectors import fasting_context, procedure_shown, procedures_for

PAGE_SIZE = 25
# What a row of the procedure list shows (readiness.with_readiness adds the checklist's counts).
LIST_ROW_FIELDS = (
    *("patient", "patient__first_name", "patient__last_name", "patient__mrn"),
    *("location", "location__name", "location__timezone"),
    *("scheduled_start", "kind", "sedation", "status", "running_late_minutes"),
)


def _form_page(
    request: HttpRequest,
    form: Any,
    title: str,
    *,
    patient: Patient | None = None,
    procedure: Procedure | None = None,
    preview: services.ChangePreview | None = None,
) -> HttpResponse:
    """The nurse's form pages share one template: breadcrumbs, a title and the form.

    With a preview, the page first shows what the family will be told and whom
    to call, and the form's button saves it for real.
    """
    if preview is not None:
        form.helper.add_input(Hidden("confirmed", "1"))
        form.helper.inputs[0].value = _("Save and tell the family")
    context = {"form": form, "title": title, "patient": patient, "procedure": procedure, "preview": preview}
    return render(request, "procedures/nurse/form.html", context)


def _needs_a_look(request: HttpRequest, preview: Callable[[], services.ChangePreview]) -> services.ChangePreview | None:
    """The preview to show before saving, or None when the change can be saved at once."""
    if request.POST.get("confirmed") == "1":
        return None
    shown = preview()
    return shown if shown.needs_confirmation else None


# --- Nurse side -----------------------------------------------------------------


def _search_term(request: HttpRequest, key: str) -> str | None:
    """Search terms (names, MRNs) travel by POST and live in the session, never in a URL.

    Returns None after storing a posted term: the caller redirects to a clean URL.
    """
    if request.method == "POST":
        request.session[key] = _printable(request.POST.get("q", ""))
        return None
    stored = request.session.get(key, "")
    return _printable(stored) if isinstance(stored, str) else ""


def _printable(term: str) -> str:
    """Without control characters: PostgreSQL refuses a NUL byte in any query, so it would fail every page."""
    kept = (" " if char.isspace() else char for char in term if char.isprintable() or char.isspace())
    return "".join(kept).strip()[:100]


def _procedure_search(request: HttpRequest) -> str:
    return _search_term(request, "procedure_search") or ""


@audited()
@care_team_required
@require_http_methods(["GET", "POST"])
@page_cache.kept(versions=page_cache.care_team_versions, vary=_procedure_search)
def procedure_list(request: HttpRequest) -> HttpResponse:
    term = _search_term(request, "procedure_search")
    if term is None:
        keep = {key: request.POST.get(key, "") for key in ("day", "location") if request.POST.get(key)}
        return redirect(reverse("nurse:procedure_list") + ("?" + urlencode(keep) if keep else ""))
    form = ProcedureFilterForm({**request.GET.dict(), "q": term}, user=request.user)
    procedures = readiness.with_readiness(procedures_for(request.user).upcoming().only(*LIST_ROW_FIELDS))
    if form.is_valid():
        data = form.cleaned_data
        if data["location"]:
            procedures = procedures.filter(location=data["location"])
        if data["day"]:
            procedures = _on_local_day(procedures, data["day"], data["location"])
        procedures = procedures.search(data["q"])
    page = page_of(procedures, request.GET.get("page"), PAGE_SIZE)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "procedures/nurse/procedure_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "has_locations": bool(form.locations),
        },
    )


def _on_local_day(procedures: Any, day: dt.date, location: Location | None) -> Any:
    """Procedures starting on a calendar day in their own clinic's time zone."""
    locations = [location] if location else Location.objects.filter(pk__in=procedures.values("location"))
    condition = Q(pk__in=[])
    for loc in locations:
        start = loc.day_start(day)
        end = loc.day_start(day + dt.timedelta(days=1))
        condition |= Q(location=loc, scheduled_start__gte=start, scheduled_start__lt=end)
    return procedures.filter(condition)


@audited()
@care_team_required
@require_http_methods(["GET", "POST"])
def patient_list(request: HttpRequest) -> HttpResponse:
    term = _search_term(request, "patient_search")
    if term is None:
        return redirect("nurse:patient_list")
    patients = Patient.objects.visible_to(request.user).select_related("location")
    if term:
        patients = patients.filter(Q(mrn__iexact=term) | Q(first_name__icontains=term) | Q(last_name__icontains=term))
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "procedures/nurse/patient_list.html", {"page": page, "q": term, "query": ""})


@audited()
@care_team_required
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    form = PatientForm(posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        patient = form.save()
        messages.success(request, _("Child added. Next, add a parent or guardian."))
        return redirect("nurse:patient_detail", pk=patient.pk)
    return _form_page(request, form, _("Add a child"))


@audited(Patient)
@care_team_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.visible_to(request.user), pk=pk)
    form = PatientForm(posted(request), instance=patient, user=request.user)
    if request.method == "POST" and form.is_valid():
        # Feeding and age decide the fasting lines: the child's open plans follow at once.
        services.update_child(patient=form.save(commit=False), changed_by=request.user)
        messages.success(request, _("Changes saved."))
        return redirect("nurse:patient_detail", pk=patient.pk)
    return _form_page(request, form, _("Edit child"), patient=patient)


@audited(Patient)
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


@audited(Patient)
@care_team_required
@require_http_methods(["GET", "POST"])
def guardian_add(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.visible_to(request.user), pk=pk)
    form = GuardianForm(posted(request), initial={"language": patient.preferred_language})
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
    return _form_page(request, form, _("Add a parent or guardian"), patient=patient)


@audited(Guardian, patient="")
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


@audited(Patient)
@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.visible_to(request.user).select_related("location"), pk=pk)
    initial = {"location": patient.location}
    form = ProcedureForm(posted(request), user=request.user, initial=initial, submit_label=_("Schedule"))
    if request.method == "POST" and form.is_valid():
        procedure = services.schedule_procedure(patient=patient, scheduled_by=request.user, **form.procedure_fields())
        messages.success(request, _("Procedure scheduled."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(request, form, _("Schedule a procedure"), patient=patient)


@audited(Procedure, patient="patient_id")
@care_team_required
def procedure_detail(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    guardians = list(Guardian.objects.filter(patients=procedure.patient).select_related("user"))
    for guardian in guardians:
        guardian.checklist = readiness.checklist(procedure=procedure, user=guardian.user)
    reports = procedure.symptom_reports.select_related("user", "acknowledged_by")
    return render(
        request,
        "procedures/nurse/procedure_detail.html",
        {
            "procedure": procedure,
            "guardians": guardians,
            "sections": events.sections("procedure", procedure=procedure, now=timezone.now()),
            "reports": reports,
            "fasted": procedure.fasted(),
            **fasting_context(procedure),
        },
    )


@audited(Procedure, patient="patient_id")
@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_edit(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    if not procedure.is_active:
        messages.error(request, _("A cancelled or completed procedure cannot be changed."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    form = ProcedureForm(
        posted(request),
        user=request.user,
        initial=ProcedureForm.initial_for(procedure),
        submit_label=_("Save changes"),
    )
    preview = None
    if request.method == "POST" and form.is_valid():
        fields = form.procedure_fields()
        preview = _needs_a_look(request, lambda: services.preview_change(procedure, now=timezone.now(), **fields))
        if preview is None:
            before = procedure.version
            try:
                procedure = services.update_procedure(
                    procedure=procedure, changed_by=request.user, based_on=form.cleaned_data["version"], **fields
                )
            except services.StaleVersion as error:
                messages.error(request, str(error))
                return redirect("nurse:procedure_detail", pk=procedure.pk)
            except (services.DayOfError, ValidationError) as error:
                form.add_error(None, error.messages if isinstance(error, ValidationError) else str(error))
            else:
                if procedure.version != before:
                    messages.success(request, _("Procedure changed. The family will see the new details."))
                else:
                    messages.success(request, _("Changes saved."))
                return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(
        request, form, _("Edit or reschedule"), patient=procedure.patient, procedure=procedure, preview=preview
    )


@audited(Procedure, patient="patient_id")
@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    if not procedure.is_active:
        messages.info(request, _("This procedure is not active."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    form = CancelForm(posted(request), procedure=procedure)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            outcomes.cancel(
                procedure=procedure,
                by=request.user,
                reason=data["outcome_reason"],
                reason_text=data["outcome_text"],
                note=data["reason"],
            )
        except outcomes.OutcomeError as error:
            form.add_error("outcome_reason", str(error))
        else:
            messages.success(request, _("Procedure cancelled."))
            return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(request, form, _("Cancel procedure"), patient=procedure.patient, procedure=procedure)


# --- The day itself and after it -------------------------------------------------------


@audited(Procedure, patient="patient_id")
@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_running_late(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    form = RunningLateForm(posted(request), procedure=procedure)
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        when = {"minutes": data.get("minutes"), "new_start": data.get("new_start")}
        preview = _needs_a_look(request, lambda: services.preview_running_late(procedure, now=timezone.now(), **when))
        if preview is None:
            try:
                services.mark_running_late(
                    procedure=procedure, changed_by=request.user, based_on=data["version"], **when
                )
            except services.StaleVersion as error:
                messages.error(request, str(error))
                return redirect("nurse:procedure_detail", pk=procedure.pk)
            except services.DayOfError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("The family has been told the new times."))
                return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(request, form, _("Running late"), patient=procedure.patient, procedure=procedure, preview=preview)


@audited(Procedure, patient="patient_id")
@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_done(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    now_local = timezone.localtime(timezone.now(), procedure.location.tz)
    initial = {"ended_time": now_local.time().replace(second=0, microsecond=0)}
    form = DoneForm(posted(request), procedure=procedure, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.mark_done(procedure=procedure, ended_at=form.cleaned_data["ended_time"], done_by=request.user)
        except services.DayOfError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Marked as done. Aftercare messages are planned from the end time."))
            return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(request, form, _("Mark as done"), patient=procedure.patient, procedure=procedure)


@audited(Procedure, patient="patient_id")
@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    """How the day went, in one step: started (on time or late, and why) or cancelled on the day, and why."""
    procedure = procedure_shown(request, pk)
    form = OutcomeForm(posted(request), procedure=procedure, initial=_outcome_initial(procedure))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        why = {"reason": data["reason"], "reason_text": data["reason_text"]}
        try:
            if data["what"] == OutcomeForm.STARTED:
                outcome = outcomes.record_start(
                    procedure=procedure, started_at=data["started_at"], by=request.user, **why
                )
            else:
                outcome = outcomes.cancel(procedure=procedure, by=request.user, **why)
        except outcomes.OutcomeError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, outcome.summary)
            return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(request, form, _("How the day went"), patient=procedure.patient, procedure=procedure)


@audited(Procedure, patient="patient_id")
@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_intake(request: HttpRequest, pk: int) -> HttpResponse:
    """At check-in: the nurse confirms or corrects when the child last drank and ate."""
    procedure = procedure_shown(request, pk)
    form = IntakeForm(
        posted(request),
        procedure=procedure,
        submit_label=_("Confirm these times"),
        initial=IntakeForm.initial_for(procedure),
    )
    if request.method == "POST" and form.is_valid():
        try:
            intake.nurse_check(procedure=procedure, nurse=request.user, times=form.times(timezone.now()))
        except intake.IntakeError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Times confirmed."))
            return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(
        request, form, _("When the child last ate and drank"), patient=procedure.patient, procedure=procedure
    )


def _outcome_initial(procedure: Procedure) -> dict[str, Any]:
    if procedure.started_at is None:
        return {"what": OutcomeForm.STARTED}
    outcome = getattr(procedure, "outcome", None)
    return {
        "what": OutcomeForm.STARTED,
        "started_time": procedure.location.localize(procedure.started_at).time().replace(tzinfo=None),
        "reason": outcome.reason if outcome else None,
        "reason_text": outcome.reason_text if outcome else "",
    }


@audited()
@care_team_required
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()  # the look's moment: before anything on the board is read, made or kept
    response = _dashboard_page(request)
    shown = getattr(response, page_cache.KEPT_VALUES, None)
    if shown is not None:
        location = shown["location"]
        _looked(request, location, now, _last_looked(request, location), shown["newest"])
    return response


def _dashboard_seen(request: HttpRequest) -> str:
    return json.dumps(_seen(request), sort_keys=True)


@page_cache.kept(versions=page_cache.care_team_versions, vary=_dashboard_seen)
def _dashboard_page(request: HttpRequest) -> HttpResponse:
    """The board; its response carries the clinic shown and the newest thing on it, for `_looked`."""
    locations = list(Location.objects.visible_to(request.user))
    if not locations:
        return render(request, "procedures/nurse/dashboard.html", {"board": None, "locations": []})
    chosen = next((loc for loc in locations if str(loc.pk) == request.GET.get("location")), locations[0])
    now = timezone.now()
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localtime(now, chosen.tz).date()
    since = _last_looked(request, chosen.pk)
    board = dashboard_queries.build(location=chosen, day=day, now=now, pages=request.GET, since=since)
    base_query = urlencode({"location": chosen.pk, "day": day.isoformat()})
    response = render(
        request,
        "procedures/nurse/dashboard.html",
        {
            "board": board,
            "locations": locations,
            "base_query": base_query,
            "next_day": day + dt.timedelta(days=1),
            "now": now,
            "refresh_seconds": DASHBOARD_REFRESH_SECONDS,
        },
    )
    setattr(response, page_cache.KEPT_VALUES, {"location": chosen.pk, "newest": board.newest})
    return response


DASHBOARD_REFRESH_SECONDS = 60
# Sent by static/js/portal.js when it reloads the dashboard on its own: not a look by the nurse.
BACKGROUND_REFRESH_HEADER = "X-Background-Refresh"


# A look within this long of the last one stored changes nothing unless the page showed something newer.
LOOK_RESOLUTION = dt.timedelta(seconds=30)


def _seen(request: HttpRequest) -> dict[str, str]:
    seen = request.session.get("dashboard_seen")
    return seen if isinstance(seen, dict) else {}


def _last_looked(request: HttpRequest, location: int) -> dt.datetime | None:
    """When this nurse last opened this clinic's dashboard (by the clinic's id)."""
    try:
        return dt.datetime.fromisoformat(_seen(request).get(str(location), ""))
    except (TypeError, ValueError):
        return None


def _looked(
    request: HttpRequest, location: int, now: dt.datetime, since: dt.datetime | None, newest: dt.datetime | None
) -> None:
    """Remember this look; a background refresh does not count as one.

    The session is written only when it matters: on the first look, when the page showed something newer
    than the last look, or once the last look is more than LOOK_RESOLUTION old.
    """
    if request.headers.get(BACKGROUND_REFRESH_HEADER) == "1":
        return
    if since is not None and now - since < LOOK_RESOLUTION and (newest is None or newest <= since):
        return
    request.session["dashboard_seen"] = {**_seen(request), str(location): now.isoformat()}


@audited(SymptomReport, patient="procedure__patient_id")
@care_team_required
@require_POST
def check_in_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(
        SymptomReport.objects.filter(procedure__in=Procedure.objects.visible_to(request.user)), pk=pk
    )
    if aftercare.acknowledge(report=report, by=request.user):
        messages.success(request, _("Acknowledged. Thank you for following up."))
    else:
        messages.info(request, _("Someone has already acknowledged this report."))
    return redirect(reverse("nurse:dashboard") + f"?location={report.procedure.location_id}")


@audited()
@care_team_required
@require_POST
def check_ins_acknowledge(request: HttpRequest) -> HttpResponse:
    """One child's card: acknowledge the reports the nurse saw on it, not any that came in since."""
    ids = [int(value) for value in request.POST.getlist("report") if value.isascii() and value.isdigit()]
    ids = [pk for pk in ids if 0 < pk <= MAX_ID]
    reports = list(
        SymptomReport.objects.filter(procedure__in=Procedure.objects.visible_to(request.user), pk__in=ids)
        .select_related("procedure")
        .order_by("pk")
    )
    if not reports:
        raise Http404
    if sum(aftercare.acknowledge(report=report, by=request.user) for report in reports):
        messages.success(request, _("Acknowledged. Thank you for following up."))
    else:
        messages.info(request, _("Someone has already acknowledged this report."))
    return redirect(reverse("nurse:dashboard") + f"?location={reports[0].procedure.location_id}")


@audited(Patient)
@care_team_required
def patient_access(request: HttpRequest, pk: int) -> HttpResponse:
    """Who looked at or changed this child's records, newest first."""
    patient = get_object_or_404(Patient.objects.visible_to(request.user).select_related("location"), pk=pk)
    page = Paginator(AuditEvent.objects.filter(patient_id=patient.pk), 50).get_page(request.GET.get("page"))
    people = User.objects.in_bulk({event.user_id for event in page if event.user_id})
    rows = [(event, people.get(event.user_id)) for event in page]
    return render(request, "procedures/nurse/patient_access.html", {"patient": patient, "page": page, "rows": rows})
