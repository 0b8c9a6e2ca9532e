from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from crispy_forms.layout import Hidden
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from portal.converters import MAX_ID
from portal.forms import posted
from portal.models import AuditEvent, User
from reminders import consent as sms_consent
from reminders.forms import RecordConsentForm

from . import aftercare, calendar, fasting_display, readiness, services
from . import dashboard as dashboard_queries
from .forms import (
    CancelForm,
    CheckInForm,
    DoneForm,
    GuardianForm,
    PatientForm,
    ProcedureFilterForm,
    ProcedureForm,
    QuestionsForm,
    RunningLateForm,
)
from .models import (
    EducationPage,
    FastingPolicy,
    Guardian,
    Location,
    PageView,
    Patient,
    PreparedQuestion,
    Procedure,
    ProcedureStatus,
    SymptomReport,
)

PAGE_SIZE = 25

# The walk-through's pictures, told for a child of about 5 to 12 (reading grade 3 at most).
FOR_CHILDREN_STEPS = (
    (
        "img/steps/step-1-numbing.svg",
        gettext_lazy("A hand puts cream on a back."),
        gettext_lazy("A nurse puts cream or a tiny shot on your back. Your skin goes numb. Then it can not feel much."),
    ),
    (
        "img/steps/step-2-lying.svg",
        gettext_lazy("A kid lies on a bed with a pillow."),
        gettext_lazy("You lie on your side on a bed. You can hold a pillow."),
    ),
    (
        "img/steps/step-3-finding.svg",
        gettext_lazy("Two fingers press on a hip bone."),
        gettext_lazy("The doctor feels your back. They look for the right spot on your hip bone."),
    ),
    (
        "img/steps/step-4-cleaning.svg",
        gettext_lazy("A sponge cleans a spot of skin."),
        gettext_lazy("They wash the spot. It feels cold!"),
    ),
    (
        "img/steps/step-5-needle.svg",
        gettext_lazy("A needle near the hip bone."),
        gettext_lazy("The doctor puts in a needle. If you are awake, you will feel a big push."),
    ),
    (
        "img/steps/step-6-drawing.svg",
        gettext_lazy("A tube fills with red stuff."),
        gettext_lazy(
            "The doctor takes a little marrow. It looks like blood. It may hurt for a short time. Then it stops."
        ),
    ),
    (
        "img/steps/step-7-more.svg",
        gettext_lazy("Two small tubes side by side."),
        gettext_lazy("Sometimes they need a bit more. That is OK. Your body makes new marrow fast."),
    ),
    (
        "img/steps/step-8-bandage.svg",
        gettext_lazy("A bandage on a back, and a happy kid."),
        gettext_lazy("All done! You get a bandage. It all takes about half an hour."),
    ),
)

View = Callable[..., HttpResponse]


def _only(allowed: Callable[[Any], bool]) -> Callable[[View], View]:
    """Pages for one side of the portal. Anyone else gets the same 404 as for a missing page."""

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


def _procedures_for(user: Any) -> Any:
    return Procedure.objects.visible_to(user).select_related("patient", "location")


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


@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_list(request: HttpRequest) -> HttpResponse:
    term = _search_term(request, "procedure_search")
    if term is None:
        keep = {key: request.POST.get(key, "") for key in ("day", "location") if request.POST.get(key)}
        return redirect(reverse("nurse:procedure_list") + ("?" + urlencode(keep) if keep else ""))
    form = ProcedureFilterForm({**request.GET.dict(), "q": term}, user=request.user)
    procedures = readiness.with_readiness(_procedures_for(request.user).upcoming())
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


@care_team_required
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    form = PatientForm(posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        patient = form.save()
        messages.success(request, _("Child added. Next, add a parent or guardian."))
        return redirect("nurse:patient_detail", pk=patient.pk)
    return _form_page(request, form, _("Add a child"))


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


def _nurse_guardian(request: HttpRequest, pk: int) -> Guardian:
    return get_object_or_404(
        Guardian.objects.visible_to(request.user)
        .select_related("user", "sms_consent_by")
        .prefetch_related(Prefetch("patients", queryset=Patient.objects.visible_to(request.user))),
        pk=pk,
    )


def _guardian_page(request: HttpRequest, guardian: Guardian, consent_form: RecordConsentForm) -> HttpResponse:
    invitation = guardian.user.invitations.order_by("-created_at").first()
    context = {
        "guardian": guardian,
        "invitation": invitation,
        "now": timezone.now(),
        "consent_form": consent_form if sms_consent.nurse_can_record(guardian) else None,
        "consent_words": sms_consent.words(guardian.user.language),
    }
    return render(request, "procedures/nurse/guardian_detail.html", context)


@care_team_required
def guardian_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _guardian_page(request, _nurse_guardian(request, pk), RecordConsentForm())


@care_team_required
@require_POST
def guardian_sms_consent(request: HttpRequest, pk: int) -> HttpResponse:
    guardian = _nurse_guardian(request, pk)
    form = RecordConsentForm(request.POST)
    if not sms_consent.nurse_can_record(guardian):
        messages.error(request, _("Texts cannot be turned on here: there is no mobile number, or they replied STOP."))
        return redirect("nurse:guardian_detail", pk=guardian.pk)
    if not form.is_valid():
        return _guardian_page(request, guardian, form)
    sms_consent.record(
        guardian=guardian,
        by=request.user,
        via=form.cleaned_data["via"],
        text=sms_consent.words(guardian.user.language),
    )
    messages.success(request, _("Consent saved. Text reminders are on for this guardian."))
    return redirect("nurse:guardian_detail", pk=guardian.pk)


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
    form = ProcedureForm(posted(request), user=request.user, initial=initial, submit_label=_("Schedule"))
    if request.method == "POST" and form.is_valid():
        procedure = services.schedule_procedure(patient=patient, scheduled_by=request.user, **form.procedure_fields())
        messages.success(request, _("Procedure scheduled."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(request, form, _("Schedule a procedure"), patient=patient)


def _nurse_procedure(request: HttpRequest, pk: int) -> Procedure:
    return get_object_or_404(_procedures_for(request.user), pk=pk)


@care_team_required
def procedure_detail(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _nurse_procedure(request, pk)
    guardians = list(Guardian.objects.filter(patients=procedure.patient).select_related("user"))
    for guardian in guardians:
        guardian.checklist = readiness.checklist(procedure=procedure, user=guardian.user)
    reminders = procedure.reminders.select_related("guardian__user").order_by("due_at", "pk")
    reports = procedure.symptom_reports.select_related("user", "acknowledged_by")
    return render(
        request,
        "procedures/nurse/procedure_detail.html",
        {
            "procedure": procedure,
            "guardians": guardians,
            "reminders": reminders,
            "reports": reports,
            **_fasting_context(procedure),
        },
    )


@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_edit(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _nurse_procedure(request, pk)
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


@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _nurse_procedure(request, pk)
    if not procedure.is_active:
        messages.info(request, _("This procedure is not active."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    form = CancelForm(posted(request))
    if request.method == "POST" and form.is_valid():
        services.cancel_procedure(procedure=procedure, reason=form.cleaned_data["reason"], cancelled_by=request.user)
        messages.success(request, _("Procedure cancelled."))
        return redirect("nurse:procedure_detail", pk=procedure.pk)
    return _form_page(request, form, _("Cancel procedure"), patient=procedure.patient, procedure=procedure)


# --- Family side ----------------------------------------------------------------


@guardian_required
def family_dashboard(request: HttpRequest) -> HttpResponse:
    procedures = list(
        readiness.with_user_readiness(
            _procedures_for(request.user).upcoming().order_by("scheduled_start"), request.user
        )
    )
    policy = FastingPolicy.current()
    now = timezone.now()
    for procedure in procedures:
        fasting = _fasting_context(procedure, now=now, policy=policy)
        procedure.plan = fasting["plan"]
        procedure.cutoff_lines = fasting["cutoffs"]
        procedure.next_step = fasting["next_step"]
    pages = readiness.education_pages()
    children = Patient.objects.visible_to(request.user).order_by("first_name")
    recent = _procedures_for(request.user).filter(
        status=ProcedureStatus.COMPLETED, ended_at__gte=timezone.now() - dt.timedelta(days=3)
    )
    return render(
        request,
        "procedures/family/dashboard.html",
        {
            "procedures": procedures,
            "recent": recent,
            "children": children,
            "pages_total": pages.count(),
            "pages_read": PageView.objects.filter(user=request.user, page__in=pages).count(),
        },
    )


@guardian_required
def family_procedure(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = get_object_or_404(_procedures_for(request.user), pk=pk)
    return render(
        request,
        "procedures/family/procedure_detail.html",
        {
            "procedure": procedure,
            "checklist": readiness.checklist(procedure=procedure, user=request.user),
            **_fasting_context(procedure),
        },
    )


@guardian_required
def family_child(request: HttpRequest, pk: int) -> HttpResponse:
    child = get_object_or_404(Patient.objects.visible_to(request.user), pk=pk)
    procedures = child.procedures.select_related("location").order_by("-scheduled_start")
    return render(request, "procedures/family/child.html", {"child": child, "procedures": procedures})


# --- Family: the appointment, fasting plan and checklist ----------------------------


def _family_procedure(request: HttpRequest, pk: int) -> Procedure:
    return get_object_or_404(_procedures_for(request.user), pk=pk)


def _fasting_context(
    procedure: Procedure, *, now: dt.datetime | None = None, policy: FastingPolicy | None = None
) -> dict[str, Any]:
    """The plan as the family reads it now: passed cut-offs said plainly, and on the day, what comes next."""
    now = now or timezone.now()
    plan = procedure.fasting_plan(policy)
    return {
        "plan": plan,
        "cutoffs": fasting_display.describe_plan(
            plan, now=now, name=procedure.patient.first_name, phone=procedure.location.phone
        ),
        "next_cutoff": plan.next_cutoff(now),
        "next_step": (
            fasting_display.next_step(plan, now=now, arrival=procedure.local_arrival) if procedure.is_active else None
        ),
    }


@guardian_required
def family_fasting_card(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _family_procedure(request, pk)
    return render(
        request,
        "procedures/family/fasting_card.html",
        {"procedure": procedure, **_fasting_context(procedure)},
    )


@guardian_required
@require_POST
def family_acknowledge_fasting(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _family_procedure(request, pk)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    if readiness.acknowledge_fasting(procedure=procedure, user=request.user, version=version):
        messages.success(request, _("Thank you. You have confirmed the times to stop eating and drinking."))
    else:
        messages.warning(request, _("The times have changed since you opened this page. Please read the new times."))
    return redirect(reverse("family:procedure", args=[procedure.pk]) + "#fasting")


@guardian_required
@require_POST
def family_confirm_contact(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _family_procedure(request, pk)
    number = request.user.guardian.mobile_number
    if not number:
        messages.error(request, _("We do not have a mobile number for you yet. Please call your care team."))
    else:
        readiness.confirm_contact(procedure=procedure, user=request.user, number=number)
        messages.success(request, _("Thank you. Your phone number is confirmed."))
    return redirect(reverse("family:procedure", args=[procedure.pk]) + "#checklist")


@guardian_required
@require_http_methods(["GET", "POST"])
def family_questions(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _family_procedure(request, pk)
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


@guardian_required
@require_POST
def family_question_delete(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    procedure = _family_procedure(request, pk)
    question = get_object_or_404(PreparedQuestion, pk=question_pk, procedure=procedure, user=request.user)
    question.delete()
    messages.success(request, _("Question removed."))
    return redirect("family:questions", pk=procedure.pk)


@guardian_required
def family_questions_print(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _family_procedure(request, pk)
    saved = PreparedQuestion.objects.filter(procedure=procedure, user=request.user)
    return render(
        request,
        "procedures/family/questions_print.html",
        {"procedure": procedure, "questions": readiness.question_texts(saved)},
    )


@guardian_required
def family_calendar(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _family_procedure(request, pk)
    body = calendar.appointment_ics(procedure, request.build_absolute_uri(reverse("family:procedure", args=[pk])))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appointment-{procedure.pk}.ics"'
    return response


# --- Education ----------------------------------------------------------------------


# The general pages are public: they hold no patient data, and a parent can open them
# from a link without an account. A child's own times stay behind the log-in.


def learn_index(request: HttpRequest) -> HttpResponse:
    pages = list(readiness.education_pages())
    read = readiness.pages_read(user=request.user, pages=pages)
    return render(request, "procedures/learn/index.html", {"pages": pages, "read": read})


def learn_for_children(request: HttpRequest) -> HttpResponse:
    return render(request, "procedures/learn/for_children.html", {"steps": FOR_CHILDREN_STEPS})


def _page_and_neighbours(slug: str) -> tuple[EducationPage, EducationPage | None, EducationPage | None]:
    pages = list(readiness.education_pages().prefetch_related("steps"))
    for index, page in enumerate(pages):
        if page.slug == slug:
            previous = pages[index - 1] if index > 0 else None
            following = pages[index + 1] if index + 1 < len(pages) else None
            return page, previous, following
    raise Http404


def learn_page(request: HttpRequest, slug: str) -> HttpResponse:
    page, previous, following = _page_and_neighbours(slug)
    steps = list(page.steps.all())
    if steps:
        return redirect("learn:step", slug=slug, number=1)
    readiness.record_page_view(user=request.user, page=page)
    return render(
        request,
        "procedures/learn/page.html",
        {"page": page, "previous": previous, "next": following},
    )


def learn_step(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    page, previous, following = _page_and_neighbours(slug)
    steps = list(page.steps.all())
    if not 1 <= number <= len(steps):
        raise Http404
    if number == len(steps):
        # Reaching the last step counts as reading the walk-through.
        readiness.record_page_view(user=request.user, page=page)
    return render(
        request,
        "procedures/learn/step.html",
        {
            "page": page,
            "step": steps[number - 1],
            "number": number,
            "total": len(steps),
            "percent": round(number * 100 / len(steps)),
            "previous_page": previous,
            "next_page": following,
        },
    )


# --- The day itself and after it -------------------------------------------------------


@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_running_late(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _nurse_procedure(request, pk)
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


@care_team_required
@require_http_methods(["GET", "POST"])
def procedure_done(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _nurse_procedure(request, pk)
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


@care_team_required
def dashboard(request: HttpRequest) -> HttpResponse:
    locations = list(Location.objects.visible_to(request.user))
    if not locations:
        return render(request, "procedures/nurse/dashboard.html", {"board": None, "locations": []})
    chosen = next((loc for loc in locations if str(loc.pk) == request.GET.get("location")), locations[0])
    now = timezone.now()
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localtime(now, chosen.tz).date()
    since = _last_looked(request, chosen, now)
    board = dashboard_queries.build(location=chosen, day=day, now=now, pages=request.GET, since=since)
    base_query = urlencode({"location": chosen.pk, "day": day.isoformat()})
    return render(
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


DASHBOARD_REFRESH_SECONDS = 60
# Sent by static/js/portal.js when it reloads the dashboard on its own: not a look by the nurse.
BACKGROUND_REFRESH_HEADER = "X-Background-Refresh"


def _last_looked(request: HttpRequest, location: Location, now: dt.datetime) -> dt.datetime | None:
    """When this nurse last opened this clinic's dashboard; a background refresh does not count as a look."""
    seen = request.session.get("dashboard_seen")
    seen = seen if isinstance(seen, dict) else {}
    try:
        since = dt.datetime.fromisoformat(seen.get(str(location.pk), ""))
    except (TypeError, ValueError):
        since = None
    if request.headers.get(BACKGROUND_REFRESH_HEADER) != "1":
        request.session["dashboard_seen"] = {**seen, str(location.pk): now.isoformat()}
    return since


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


@guardian_required
@require_http_methods(["GET", "POST"])
def family_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = _family_procedure(request, pk)
    opened = procedure.status == "completed" or procedure.scheduled_start <= timezone.now()
    if not opened or procedure.status == "cancelled":
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


@care_team_required
def patient_access(request: HttpRequest, pk: int) -> HttpResponse:
    """Who looked at or changed this child's records, newest first."""
    patient = get_object_or_404(Patient.objects.visible_to(request.user).select_related("location"), pk=pk)
    page = Paginator(AuditEvent.objects.filter(patient_id=patient.pk), 50).get_page(request.GET.get("page"))
    people = User.objects.in_bulk({event.user_id for event in page if event.user_id})
    rows = [(event, people.get(event.user_id)) for event in page]
    return render(request, "procedures/nurse/patient_access.html", {"patient": patient, "page": page, "rows": rows})
