"""The words of each reminder, per kind, channel and language.

They carry the least health information that works: the child's first name,
times, the clinic's name and phone, and a link. Texts never name the
procedure or a diagnosis, always name the sender and say how to stop.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from portal.links import id_url
from portal.models import Invitation, ResetCode, User
from portal.phones import display as phone_display
from procedures import day_words, fasting_display
from procedures.fasting import Item
from procedures.models import Guardian, Location

from .channels import Message
from .models import ACCOUNT_KINDS, AttemptOutcome, Channel, DeliveryAttempt, Kind, Reminder, Status
from .planning import planned_reminders
from .texts import render_text

if TYPE_CHECKING:
    from procedures.models import FastingPolicy, Procedure


# A fasting reminder in these states may have reached the family: a cancellation then
# says first that the child may eat and drink again (better said once too often than not).
MAY_HAVE_REACHED = (Status.SENDING, Status.UNKNOWN, Status.SENT, Status.DELIVERED)


# Messages that give the family the procedure's times (the start, or the arrival and cut-offs that follow it).
TELLS_START = (Kind.CONFIRMATION, Kind.CHANGED, Kind.DELAYED, Kind.FASTING_EVENING, Kind.FASTING_MORNING)


def last_told_start(procedure: Procedure, guardian: Guardian | None) -> datetime | None:
    """The start this guardian was last given before the current version, by a message that may have reached them.

    None if none did. Messages of the current version are left out: the text about
    this change, on another channel a moment earlier, already gives the new start.
    """
    if procedure.pk is None or guardian is None or guardian.pk is None:
        return None
    return (
        DeliveryAttempt.objects.filter(
            reminder__procedure_id=procedure.pk,
            reminder__guardian_id=guardian.pk,
            reminder__procedure_version__lt=procedure.version,
            told_start__isnull=False,
            outcome__in=(AttemptOutcome.SUCCESS, AttemptOutcome.UNKNOWN),
        )
        .order_by("-started_at", "-pk")
        .values_list("told_start", flat=True)
        .first()
    )


def _minutes(delta: timedelta) -> int:
    return round(delta.total_seconds() / 60)


def fasting_reached(procedure: Procedure, guardian: Guardian | None) -> bool:
    """Whether a fasting instruction of this procedure may have reached this guardian."""
    if procedure.pk is None or guardian is None or guardian.pk is None:
        return False
    return Reminder.objects.filter(
        procedure_id=procedure.pk,
        guardian_id=guardian.pk,
        kind__in=(Kind.FASTING_EVENING, Kind.FASTING_MORNING),
        status__in=MAY_HAVE_REACHED,
    ).exists()


def _subject(kind: str, name: str, picture: dict[str, object]) -> str:
    """The subject line, its day words from the real dates at the moment it is written (procedures.day_words)."""
    values = {"name": name, "start": picture["start"], "first": picture["first_when"]}
    if kind == Kind.FASTING_EVENING and picture["first_when"]:
        return _("%(name)s's fasting starts %(first)s") % values
    if kind == Kind.CANCELLED and picture.get("fasting_told"):
        return _("Cancelled: %(name)s may eat and drink as usual again") % values
    return {
        Kind.CONFIRMATION: _("%(name)s's appointment is booked"),
        Kind.CHANGED: _("%(name)s's appointment has changed"),
        Kind.CANCELLED: _("%(name)s's appointment is cancelled"),
        Kind.DELAYED: _("%(name)s's procedure now starts %(start)s"),
        Kind.FASTING_EVENING: _("When %(name)s must stop eating and drinking"),
        Kind.FASTING_MORNING: _("%(name)s's last drinks and arrival time"),
        Kind.AFTERCARE_EVENING: _("Caring for %(name)s tonight"),
        Kind.AFTERCARE_NEXT_DAY: _("How is %(name)s today?"),
    }[kind] % values


def render(reminder: Reminder, *, now: datetime | None = None, policy: FastingPolicy | None = None) -> Message:
    """The message of one reminder, as it reads at `now`, from the procedure's current state.

    `policy`: the fasting policy in force, when the caller has it (a batch loads it once).
    """
    if reminder.kind in ACCOUNT_KINDS:
        return _account_message(reminder, now=now or timezone.now())
    message = compose(
        kind=reminder.kind,
        channel=reminder.channel,
        procedure=reminder.procedure,
        guardian=reminder.guardian,
        now=now or timezone.now(),
        policy=policy,
    )
    return Message(message.channel, message.to, message.subject, message.body, reminder.pk, message.at)


def _picture(procedure: Procedure, *, name: str, now: datetime, policy: FastingPolicy | None) -> dict[str, object]:
    """The whole current picture: day, arrival and place, each cut-off (passed ones said plainly)."""
    location = procedure.location
    plan = procedure.fasting_plan(policy)
    lines = fasting_display.describe_plan(plan, now=now, name=name, phone=location.phone)
    clear = plan.cutoff_for(Item.CLEAR_FLUIDS)
    ahead = [cutoff for cutoff in plan.cutoffs if cutoff.at > now]
    return {
        "date": fasting_display.formatted(procedure.local_start, "DATE_FORMAT"),
        # Every time a message gives carries its day, as true at the moment of writing.
        "arrival": day_words.when(procedure.local_arrival, now=now),
        "arrival_passed": procedure.arrival_at <= now,
        "place": ", ".join(part for part in (location.name, location.address) if part),
        "start": day_words.when(procedure.local_start, now=now),
        "first_when": day_words.when(ahead[0].at, now=now) if plan.required and ahead else "",
        "fasting": plan.required,
        "lines": lines,
        "clear_until": day_words.when(clear.at, now=now) if clear and clear.at > now else "",
        "clear_explained": fasting_display.CLEAR_FLUIDS_EXPLAINED
        if any(line.item == Item.CLEAR_FLUIDS and not line.passed for line in lines)
        else "",
    }


def _fasting_text_at(procedure: Procedure, *, now: datetime, policy: FastingPolicy | None) -> str:
    """When the evening fasting text will go, in day words; "" once its time has come (the times go now)."""
    for planned in planned_reminders(procedure, policy=policy):
        if planned.kind == Kind.FASTING_EVENING and planned.due_at > now:
            return day_words.when(planned.due_at.astimezone(procedure.location.tz), now=now)
    return ""


def compose(
    *,
    kind: str,
    channel: str,
    procedure: Procedure,
    guardian: Guardian | None,
    now: datetime,
    policy: FastingPolicy | None = None,
) -> Message:
    """A message of `kind` about `procedure` as it stands, in the guardian's language.

    Also used unsaved, to show a nurse what a change will tell the family before it is saved.
    """
    location = procedure.location
    name = procedure.patient.first_name
    language = guardian.user.language if guardian else translation.get_language()
    with translation.override(language or "en"):
        # What this guardian was told before: a shift is stated against it, and a cancellation after a
        # fasting instruction says first to eat and drink as usual (in the text and the email alike).
        told: dict[str, object] = {}
        if kind == Kind.DELAYED:
            start = last_told_start(procedure, guardian)
            shift = procedure.running_late_minutes if start is None else _minutes(procedure.scheduled_start - start)
            told.update(late_minutes=abs(shift), earlier=shift < 0, told=start is not None, moved=shift != 0)
        if kind == Kind.CANCELLED:
            told["fasting_told"] = fasting_reached(procedure, guardian)
        if channel == Channel.SMS:
            # A text of its own, short enough to read at a glance; the email keeps the full detail.
            body = render_text(kind, procedure, now=now, language=language or "en", policy=policy, told=told)
            return Message(Channel.SMS, guardian.mobile_number if guardian else "", "", body, None, now)
        context = {
            "channel": channel,
            "name": name,
            "clinic": location.name,
            "phone": phone_display(location.phone),
            "link": settings.SITE_URL + id_url("family:procedure", procedure.pk),
            "check_in_link": settings.SITE_URL + id_url("family:check_in", procedure.pk),
            **told,
        }
        picture = _picture(procedure, name=name, now=now, policy=policy)
        if kind == Kind.CANCELLED:
            picture["fasting_told"] = told["fasting_told"]
        if kind == Kind.CONFIRMATION:
            picture["fasting_text_at"] = _fasting_text_at(procedure, now=now, policy=policy)
        context.update(picture)
        body = render_to_string(f"reminders/messages/{kind}.txt", context).strip()
        body = "\n".join(line.strip() for line in body.splitlines() if line.strip())
        subject = _subject(kind, name, picture)
        footer = _("You get these emails from %(clinic)s through Marrow Ready. Change how we reach you: %(link)s") % {
            "clinic": location.name,
            "link": settings.SITE_URL + reverse("family:preferences"),
        }
        to_email = guardian.user.email if guardian else ""
        return Message(Channel.EMAIL, to_email, subject, f"{body}\n\n{footer}", None, now)


# --- Account and care-team emails --------------------------------------------------


def _account_message(reminder: Reminder, *, now: datetime) -> Message:
    guardian = reminder.guardian
    to = reminder.address or (guardian.user.email if guardian else "")
    if reminder.kind == Kind.TEAM_ALERT:
        subject, body = _team_alert(reminder)
        return Message(Channel.EMAIL, to, subject, body, reminder.pk, now)
    if reminder.kind in PASSWORD_KINDS:
        return _password_message(reminder, now=now)
    user = guardian.user
    with translation.override(user.language or "en"):
        if reminder.kind == Kind.INVITATION:
            # Issued at the moment of sending: only its hash is stored, and a new
            # link (after a retry) voids the one before.
            inviter = User.objects.filter(pk=reminder.about_id).first()
            _invitation, token = Invitation.issue(user=user, created_by=inviter)
            context = {
                "user": user,
                "link": settings.SITE_URL + reverse("accept_invitation", args=[token]),
                "hours": settings.INVITATION_VALID_HOURS,
                # Named with their numbers, so the family knows who wrote and whom to call.
                "clinics": list(Location.objects.filter(patients__guardians__user=user).distinct().order_by("name")),
                "learn": settings.SITE_URL + reverse("learn:index"),
            }
            subject = render_to_string("emails/invitation_subject.txt", context).strip()
            body = render_to_string("emails/invitation.txt", context)
        else:
            subject = _("Your Marrow Ready contact details were changed")
            body = _(
                "The email or mobile number on your Marrow Ready account was just changed. "
                "If you did not do this, call your child's clinic straight away."
            )
    return Message(Channel.EMAIL, to, subject, body, reminder.pk, now)


PASSWORD_KINDS = (Kind.PASSWORD_RESET, Kind.PASSWORD_RESET_CODE, Kind.PASSWORD_CHANGED)


def _password_message(reminder: Reminder, *, now: datetime) -> Message:
    """A reset link, a reset code or a password-changed notice; staff have no guardian, so the account is about_id.

    The link and the code are made at the moment of sending, so the row never holds them.
    """
    user = User.objects.get(pk=reminder.about_id)
    with translation.override(user.language or "en"):
        if reminder.kind == Kind.PASSWORD_RESET_CODE:
            number = reminder.address or reminder.guardian.mobile_number
            _row, code = ResetCode.issue(user=user, mobile_number=number)
            shared = Guardian.objects.filter(mobile_number=number).count() > 1
            context = {"code": code, "minutes": settings.PASSWORD_RESET_CODE_MINUTES, "email": user.email}
            body = render_to_string("emails/password_reset_code_sms.txt", {**context, "shared": shared})
            body = "\n".join(line.strip() for line in body.splitlines() if line.strip())
            return Message(Channel.SMS, number, "", body, reminder.pk, now)
        context = {"user": user, "login": settings.SITE_URL + reverse("login")}
        if reminder.kind == Kind.PASSWORD_RESET:
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            token = default_token_generator.make_token(user)
            context["link"] = settings.SITE_URL + reverse("password_reset_confirm", args=[uid, token])
            context["minutes"] = settings.PASSWORD_RESET_TIMEOUT // 60
            subject = _("Choose a new Marrow Ready password")
            body = render_to_string("emails/password_reset.txt", context)
        else:
            subject = _("Your Marrow Ready password was changed")
            body = render_to_string("emails/password_changed.txt", context)
    return Message(Channel.EMAIL, reminder.address or user.email, subject, body, reminder.pk, now)


def _team_alert(reminder: Reminder) -> tuple[str, str]:
    # The email names no child and carries no free text: the link leads to the details behind a login.
    from procedures.models import SymptomReport

    report = SymptomReport.objects.select_related("procedure__location").get(pk=reminder.about_id)
    location = report.procedure.location
    link = settings.SITE_URL + reverse("nurse:dashboard") + f"?location={location.pk}"
    body = (
        "A family reported a warning sign after a procedure and was asked to call the clinic.\n"
        f"Warning signs: {', '.join(report.flags)}\n"
        f"Reported at: {timezone.localtime(report.created_at, location.tz):%Y-%m-%d %H:%M %Z}\n"
        f"Open the dashboard: {link}\n"
    )
    return "Marrow Ready: a family reported a warning sign", body
