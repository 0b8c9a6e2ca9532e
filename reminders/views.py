from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import care_team_required, guardian_required
from portal.audit import audited
from portal.forms import posted
from portal.models import Role
from procedures.models import ConsentVia, Guardian, Patient, Procedure

from . import consent, replies, services
from .forms import SMS_CONSENT_TEXT, OutboxFilterForm, PreferencesForm, RecordConsentForm, TextQuestionForm
from .models import InboundText, OutboxMessage, Reminder, Reply

PAGE_SIZE = 50
THREAD_SIZE = 50


def short_procedure(request: HttpRequest, pk: int) -> HttpResponse:
    """A text's short link: to the family's page for the procedure, behind its login and checks."""
    return redirect("family:procedure", pk=pk)


def short_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect("family:check_in", pk=pk)


@audited()
@care_team_required
def outbox(request: HttpRequest) -> HttpResponse:
    """Every message that would have gone out, newest first (nurses: their clinics')."""
    rows = OutboxMessage.objects.all()
    if request.user.role != Role.ADMIN:
        rows = rows.filter(Q(reminder__procedure__location__nurses=request.user))
    form = OutboxFilterForm(request.GET)
    if form.is_valid():
        rows = form.apply(rows)
    rows = rows.select_related(
        "reminder__guardian__user", "reminder__procedure__patient", "reminder__procedure__location"
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "reminders/outbox.html", {"page": page, "form": form, "query": query.urlencode()})


@audited(Reminder, patient="procedure__patient_id")
@care_team_required
@require_POST
def resend(request: HttpRequest, pk: int) -> HttpResponse:
    reminder = get_object_or_404(
        Reminder.objects.select_related("procedure", "guardian__user").filter(
            procedure__in=Procedure.objects.visible_to(request.user)
        ),
        pk=pk,
    )
    try:
        services.resend(reminder)
    except services.CannotResend as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("The reminder will be sent again in the next minute."))
    return redirect("nurse:procedure_detail", pk=reminder.procedure_id)


@guardian_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    guardian = get_object_or_404(Guardian.objects.select_related("user"), user=request.user)
    form = PreferencesForm(posted(request), guardian=guardian, initial=PreferencesForm.initial_for(guardian))
    if request.method == "POST" and form.is_valid():
        services.save_preferences(guardian=guardian, data=form.cleaned_data, consent_text=str(SMS_CONSENT_TEXT))
        messages.success(request, _("Your choices are saved."))
        return redirect("family:preferences")
    return render(request, "reminders/preferences.html", {"form": form, "guardian": guardian})


@audited()
@guardian_required
@require_http_methods(["GET", "POST"])
def text_question(request: HttpRequest) -> HttpResponse:
    """Asked once after login: "Can we text you reminders?" Yes turns texts on; "not now" is remembered."""
    guardian = get_object_or_404(Guardian.objects.select_related("user"), user=request.user)
    if not consent.should_ask(guardian):
        return redirect("family:dashboard")
    form = TextQuestionForm(posted(request))
    # The words as shown on this page, in the language it is shown in.
    words = str(SMS_CONSENT_TEXT)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["answer"] == "yes":
            consent.record(guardian=guardian, by=request.user, via=ConsentVia.PORTAL, text=words)
            messages.success(request, _("Thank you. We will text your reminders to your mobile."))
        else:
            consent.not_now(guardian=guardian)
            messages.info(request, _("OK. We will not text you. You can change this any time on the Reminders page."))
        return redirect("family:dashboard")
    context = {"form": form, "guardian": guardian, "consent_words": words}
    return render(request, "reminders/text_question.html", context)


# --- A guardian: how we reach them, and their consent to texts ---------------------


def _nurse_guardian(request: HttpRequest, pk: int) -> Guardian:
    return get_object_or_404(
        Guardian.objects.visible_to(request.user)
        .select_related("user", "sms_consent_by")
        .prefetch_related(Prefetch("patients", queryset=Patient.objects.visible_to(request.user))),
        pk=pk,
    )


def _guardian_page(request: HttpRequest, guardian: Guardian, consent_form: RecordConsentForm) -> HttpResponse:
    invitation = guardian.user.invitations.order_by("-created_at").first()
    texts = (
        InboundText.objects.visible_to(request.user)
        .filter(guardian=guardian)
        .select_related("procedure__patient", "answered_by")
        .order_by("-received_at", "-pk")[:THREAD_SIZE]
    )
    context = {
        "texts": list(texts),
        "guardian": guardian,
        "invitation": invitation,
        "now": timezone.now(),
        "consent_form": consent_form if consent.nurse_can_record(guardian) else None,
        "consent_words": consent.words(guardian.user.language),
    }
    return render(request, "reminders/nurse/guardian_detail.html", context)


@audited(Guardian, patient="")
@care_team_required
def guardian_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _guardian_page(request, _nurse_guardian(request, pk), RecordConsentForm())


@audited(Guardian, patient="")
@care_team_required
@require_POST
def guardian_sms_consent(request: HttpRequest, pk: int) -> HttpResponse:
    guardian = _nurse_guardian(request, pk)
    form = RecordConsentForm(request.POST)
    if not consent.nurse_can_record(guardian):
        messages.error(request, _("Texts cannot be turned on here: there is no mobile number, or they replied STOP."))
        return redirect("nurse:guardian_detail", pk=guardian.pk)
    if not form.is_valid():
        return _guardian_page(request, guardian, form)
    consent.record(
        guardian=guardian,
        by=request.user,
        via=form.cleaned_data["via"],
        text=consent.words(guardian.user.language),
    )
    messages.success(request, _("Consent saved. Text reminders are on for this guardian."))
    return redirect("nurse:guardian_detail", pk=guardian.pk)


# --- What families tell the care team ----------------------------------------------


@audited(Procedure, patient="patient_id")
@guardian_required
@require_POST
def procedure_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """ "We're running late" / "We can't come" from the family's page, for families who don't text."""
    procedure = get_object_or_404(
        Procedure.objects.visible_to(request.user).active().select_related("patient", "location"), pk=pk
    )
    answer = request.POST.get("answer", "")
    if answer not in replies.PAGE_WORDS:
        messages.error(request, _("Choose one of the buttons: running late, or can't come."))
        return redirect("family:procedure", pk=procedure.pk)
    said = replies.from_page(guardian=request.user.guardian, procedure=procedure, meaning=Reply(answer))
    messages.success(request, said)
    return redirect("family:procedure", pk=procedure.pk)


@audited()
@care_team_required
@require_POST
def inbound_text_answered(request: HttpRequest, pk: int) -> HttpResponse:
    inbound = get_object_or_404(InboundText.objects.visible_to(request.user), pk=pk)
    if replies.mark_answered(inbound=inbound, by=request.user):
        messages.success(request, _("Marked as answered."))
    else:
        messages.info(request, _("Someone had already marked it as answered."))
    if inbound.guardian_id:
        return redirect("nurse:guardian_detail", pk=inbound.guardian_id)
    return redirect("nurse:dashboard")
