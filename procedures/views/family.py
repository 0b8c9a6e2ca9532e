"""The family's pages: their children, each appointment, the fasting card, questions and check-ins."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import guardian_required
from portal.audit import audited
from portal.forms import posted

from .. import aftercare, calendar, intake, page_cache, readiness
from ..forms.family import (
    CheckInForm,
    IntakeForm,
    QuestionsForm,
)
from ..models import (
    FastingPolicy,
    PageView,
    Patient,
    PreparedQuestion,
    Procedure,
    ProcedureStatus,
)
from ..selectors import fasting_context, procedure_shown, procedures_for

# --- Family side ----------------------------------------------------------------


@audited()
@guardian_required
@page_cache.kept
def family_dashboard(request: HttpRequest) -> HttpResponse:
    procedures = list(
        readiness.with_readiness(procedures_for(request.user).upcoming().order_by("scheduled_start"), user=request.user)
    )
    policy = FastingPolicy.current()
    now = timezone.now()
    for procedure in procedures:
        fasting = fasting_context(procedure, now=now, policy=policy)
        procedure.plan = fasting["plan"]
        procedure.cutoff_lines = fasting["cutoffs"]
        procedure.next_step = fasting["next_step"]
    if procedures:
        # with_readiness counted this guardian's reading already, in the procedures' query.
        pages_total, pages_read = procedures[0].pages_total, procedures[0].pages_read
    else:
        pages = readiness.education_pages()
        pages_total = pages.count()
        pages_read = PageView.objects.filter(user=request.user, page__in=pages).count()
    children = Patient.objects.visible_to(request.user).order_by("first_name")
    recent = procedures_for(request.user).filter(
        status=ProcedureStatus.COMPLETED, ended_at__gte=timezone.now() - dt.timedelta(days=3)
    )
    return render(
        request,
        "procedures/family/dashboard.html",
        {
            "procedures": procedures,
            "recent": recent,
            "children": children,
            "pages_total": pages_total,
            "pages_read": pages_read,
        },
    )


@audited(Procedure, patient="patient_id")
@guardian_required
@page_cache.kept
def family_procedure(request: HttpRequest, pk: int) -> HttpResponse:
    # The checklist's counts come in the same query as the procedure.
    procedure = procedure_shown(request, pk, readiness.with_readiness(procedures_for(request.user), user=request.user))
    now = timezone.now()
    asking = intake.answer_open(procedure, now) and procedure.fasting_plan().required
    return render(
        request,
        "procedures/family/procedure_detail.html",
        {
            "procedure": procedure,
            "checklist": readiness.checklist_of(procedure),
            "intake_form": _intake_form(procedure) if asking else None,
            **fasting_context(procedure, now=now),
        },
    )


def _intake_form(procedure: Procedure, data: object = None) -> IntakeForm:
    form = IntakeForm(data, procedure=procedure, submit_label=_("Send"), initial=IntakeForm.initial_for(procedure))
    form.helper.form_action = reverse("family:intake", args=[procedure.pk])
    return form


@audited(Procedure, patient="patient_id")
@guardian_required
@require_POST
def family_intake(request: HttpRequest, pk: int) -> HttpResponse:
    """The morning answer: when the child last drank and ate. One tap from the appointment page."""
    procedure = procedure_shown(request, pk)
    form = _intake_form(procedure, request.POST)
    if form.is_valid():
        try:
            intake.family_answer(procedure=procedure, user=request.user, times=form.times(timezone.now()))
        except intake.IntakeError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Thank you. The care team will check these times with you when you arrive."))
    else:
        messages.error(request, _("Please give each time as hours and minutes, for example 6:30."))
    return redirect(reverse("family:procedure", args=[procedure.pk]) + "#last-intake")


@audited(Patient)
@guardian_required
def family_child(request: HttpRequest, pk: int) -> HttpResponse:
    child = get_object_or_404(Patient.objects.visible_to(request.user), pk=pk)
    procedures = child.procedures.select_related("location").order_by("-scheduled_start")
    return render(request, "procedures/family/child.html", {"child": child, "procedures": procedures})


# --- Family: the appointment, fasting plan and checklist ----------------------------


@audited(Procedure, patient="patient_id")
@guardian_required
def family_fasting_card(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    return render(
        request,
        "procedures/family/fasting_card.html",
        {"procedure": procedure, **fasting_context(procedure)},
    )


@audited(Procedure, patient="patient_id")
@guardian_required
@require_POST
def family_acknowledge_fasting(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    if readiness.acknowledge_fasting(procedure=procedure, user=request.user, version=version):
        messages.success(request, _("Thank you. You have confirmed the times to stop eating and drinking."))
    else:
        messages.warning(request, _("The times have changed since you opened this page. Please read the new times."))
    return redirect(reverse("family:procedure", args=[procedure.pk]) + "#fasting")


@audited(Procedure, patient="patient_id")
@guardian_required
@require_POST
def family_confirm_contact(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    number = request.user.guardian.mobile_number
    if not number:
        messages.error(request, _("We do not have a mobile number for you yet. Please call your care team."))
    else:
        readiness.confirm_contact(procedure=procedure, user=request.user, number=number)
        messages.success(request, _("Thank you. Your phone number is confirmed."))
    return redirect(reverse("family:procedure", args=[procedure.pk]) + "#checklist")


@audited(Procedure, patient="patient_id")
@guardian_required
@require_http_methods(["GET", "POST"])
def family_questions(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    saved = PreparedQuestion.objects.filter(procedure=procedure, user=request.user)
    form = QuestionsForm(posted(request), initial={"standard": [q.standard_key for q in saved if q.standard_key]})
    if request.method == "POST" and form.is_valid():
        readiness.save_questions(
            procedure=procedure,
            user=request.user,
            standard=form.cleaned_data["standard"],
            own=form.cleaned_data["own"],
        )
        messages.success(request, _("Your questions are saved."))
        return redirect("family:questions", pk=procedure.pk)
    return render(
        request,
        "procedures/family/questions.html",
        {"procedure": procedure, "form": form, "questions": readiness.question_texts(saved)},
    )


@audited(Procedure, patient="patient_id")
@guardian_required
@require_POST
def family_question_delete(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    question = get_object_or_404(PreparedQuestion, pk=question_pk, procedure=procedure, user=request.user)
    question.delete()
    messages.success(request, _("Question removed."))
    return redirect("family:questions", pk=procedure.pk)


@audited(Procedure, patient="patient_id")
@guardian_required
def family_questions_print(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    saved = PreparedQuestion.objects.filter(procedure=procedure, user=request.user)
    return render(
        request,
        "procedures/family/questions_print.html",
        {"procedure": procedure, "questions": readiness.question_texts(saved)},
    )


@audited(Procedure, patient="patient_id")
@guardian_required
def family_calendar(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    body = calendar.appointment_ics(procedure, request.build_absolute_uri(reverse("family:procedure", args=[pk])))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appointment-{procedure.pk}.ics"'
    return response


@audited(Procedure, patient="patient_id")
@guardian_required
@require_http_methods(["GET", "POST"])
def family_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_shown(request, pk)
    if not aftercare.check_in_open(procedure, now=timezone.now()):
        return render(request, "procedures/family/check_in_closed.html", {"procedure": procedure})
    form = CheckInForm(posted(request), pain_question=aftercare.pain_question(procedure))
    if request.method == "POST" and form.is_valid():
        hits = aftercare.record_check_in(procedure=procedure, user=request.user, report=form.save(commit=False))
        return render(
            request,
            "procedures/family/check_in_result.html",
            {"procedure": procedure, "hits": hits},
        )
    return render(request, "procedures/family/check_in.html", {"procedure": procedure, "form": form})
