from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.forms import posted
from portal.models import Role, User
from procedures.models import ConsentVia, Guardian, Procedure
from procedures.views import care_team_required, guardian_required

from . import consent
from .forms import SMS_CONSENT_TEXT, OutboxFilterForm, PreferencesForm, TextQuestionForm
from .models import Kind, OutboxMessage, Reminder, Status
from .planning import channels_for, queue_email, sync_for_guardian

PAGE_SIZE = 50


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


@care_team_required
@require_POST
def resend(request: HttpRequest, pk: int) -> HttpResponse:
    reminder = get_object_or_404(
        Reminder.objects.select_related("procedure", "guardian__user").filter(
            procedure__in=Procedure.objects.visible_to(request.user)
        ),
        pk=pk,
    )
    procedure = reminder.procedure
    now = timezone.now()
    if reminder.status in (Status.SCHEDULED, Status.QUEUED, Status.SENDING):
        messages.info(request, _("This reminder is already on its way."))
    elif reminder.status == Status.UNKNOWN and reminder.checked_at is None:
        messages.info(
            request, _("We are still asking the provider whether this one arrived. Please look again in a few minutes.")
        )
    elif reminder.procedure_version != procedure.version:
        messages.error(request, _("This reminder was for times that have changed, so it was not sent again."))
    elif reminder.valid_until <= now:
        messages.error(request, _("This reminder is no longer useful (its time has passed), so it was not sent."))
    elif reminder.channel not in channels_for(reminder.guardian):
        messages.error(request, _("This guardian cannot be reached on this channel (opted out or no address)."))
    else:
        Reminder.objects.create(
            procedure=procedure,
            guardian=reminder.guardian,
            channel=reminder.channel,
            kind=reminder.kind,
            due_at=now,
            valid_until=reminder.valid_until,
            procedure_version=procedure.version,
            resend_of=reminder,
        )
        messages.success(request, _("The reminder will be sent again in the next minute."))
    return redirect("nurse:procedure_detail", pk=procedure.pk)


@guardian_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    guardian = get_object_or_404(Guardian.objects.select_related("user"), user=request.user)
    form = PreferencesForm(posted(request), guardian=guardian, initial=PreferencesForm.initial_for(guardian))
    if request.method == "POST" and form.is_valid():
        save_preferences(guardian=guardian, data=form.cleaned_data, consent_text=str(SMS_CONSENT_TEXT))
        messages.success(request, _("Your choices are saved."))
        return redirect("family:preferences")
    return render(request, "reminders/preferences.html", {"form": form, "guardian": guardian})


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


@transaction.atomic
def save_preferences(*, guardian: Guardian, data: dict, consent_text: str) -> None:
    now = timezone.now()
    number_changed = data["mobile_number"] != guardian.mobile_number
    old_email = guardian.user.email
    if number_changed or data["email"] != old_email:
        # Tell the address on file, so a taken-over account does not go unnoticed.
        notify_contact_change(guardian.user, old_email)
    guardian.email_enabled = data["email_enabled"]
    guardian.sms_enabled = data["sms_enabled"]
    guardian.mobile_number = data["mobile_number"]
    if number_changed:
        guardian.sms_consent_at = None
        guardian.sms_consent_text = ""
        guardian.sms_consent_via = ""
        guardian.sms_asked_at = None  # a new number is asked about again
    if data["sms_enabled"] and data.get("sms_consent") and guardian.sms_consent_at is None:
        guardian.sms_consent_at = now
        guardian.sms_consent_text = consent_text
        guardian.sms_consent_by = guardian.user
        guardian.sms_consent_via = ConsentVia.PORTAL
    guardian.save()
    User.objects.filter(pk=guardian.user_id).update(language=data["language"], email=data["email"])
    guardian.user.language = data["language"]
    guardian.user.email = data["email"]
    sync_for_guardian(guardian)


def notify_contact_change(user: User, old_email: str) -> None:
    queue_email(Kind.CONTACT_CHANGED, guardian=user.guardian, address=old_email)
