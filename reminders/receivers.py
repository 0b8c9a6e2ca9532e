"""How delivery hears of what happened elsewhere: the receivers of procedures.events and portal.events.

Connected once, in RemindersConfig.ready(). Each runs in the sender's transaction.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from portal import events as account_events
from portal import metrics as portal_metrics
from procedures import events
from procedures.events import Reason, Section
from procedures.models import Guardian, Procedure, SymptomReport

from . import consent, dashboard, health, metrics, quality, replies, sms
from .messages import compose
from .models import Channel, Kind
from .planning import queue_email, sync_reminders

# The notice a family gets when their picture moved for this reason (None: no notice).
NOTICE: dict[Reason, Kind | None] = {
    Reason.BOOKED: Kind.CONFIRMATION,
    Reason.EDITED: Kind.CHANGED,
    Reason.RUNNING_LATE: Kind.DELAYED,
    Reason.CANCELLED: Kind.CANCELLED,
    Reason.DONE: None,
    Reason.POLICY: Kind.CHANGED,
    Reason.CLINIC: Kind.CHANGED,
    Reason.CHILD: Kind.CHANGED,
    Reason.GUARDIANS: Kind.CHANGED,
}


def plan_again(
    sender: Any, *, procedure: Procedure, reason: Reason, moved: bool, about: Any, now: Any, **_: Any
) -> None:
    sync_reminders(
        procedure,
        event=NOTICE[reason] if moved else None,
        about=about,
        audience_changed=reason == Reason.GUARDIANS,
        now=now,
    )


def notice_text(sender: Any, *, procedure: Procedure, reason: Reason, now: Any, **_: Any) -> events.Notice:
    kind = NOTICE[reason] or Kind.CHANGED
    text = compose(kind=kind, channel=Channel.SMS, procedure=procedure, guardian=None, now=now).body
    return events.Notice(text, sms.describe(text))


def invite(sender: Any, *, guardian: Guardian, invited_by: Any, **_: Any) -> None:
    queue_email(Kind.INVITATION, guardian=guardian, about_id=invited_by.pk if invited_by else None)


def alert_team(sender: Any, *, report: SymptomReport, **_: Any) -> None:
    team_email = report.procedure.location.team_email
    if team_email:
        # On the durable email path: retried if the mail server is down, never lost.
        queue_email(Kind.TEAM_ALERT, address=team_email, about_id=report.pk)


def account_message(sender: Any, *, message: str, user: Any, address: str, by_text: bool = False, **_: Any) -> None:
    queue_email(
        Kind(message),
        guardian=getattr(user, "guardian", None),
        address=address,
        about_id=user.pk,
        channel=Channel.SMS if by_text else Channel.EMAIL,
    )


def ask_about_texts_first(sender: Any, *, user: Any, **_: Any) -> tuple[int, str] | None:
    guardian = getattr(user, "guardian", None)
    if guardian is not None and consent.should_ask(guardian):
        return (10, reverse("family:text_question"))
    return None


def nurse_section(sender: Any, *, page: str, now: Any = None, **objects: Any) -> Section | None:
    if page == "quality":
        chart = quality.delivery_chart(objects["location"], objects["start"], objects["end"])
        return Section("", charts=[chart])
    if page == "dashboard":
        problems = dashboard.problems(objects["location"], now, objects["pages"])
        shown = [reminder.updated_at for reminder in problems["problems"]]
        return Section("reminders/nurse/_delivery_problems.html", newest=max(shown, default=None), problems=problems)
    if page == "procedure":
        return Section(
            "reminders/nurse/_procedure_reminders.html", reminders=dashboard.of_procedure(objects["procedure"], now)
        )
    return None


def replies_section(sender: Any, *, page: str, now: Any = None, **objects: Any) -> Section | None:
    """On the board: whether today's and tomorrow's families answered, and the texts they sent."""
    if page != "dashboard":
        return None
    location = objects["location"]
    texts = replies.recent(location, now)
    answers = replies.upcoming_answers(location, now, limit=replies.ANSWERS_SHOWN)
    return Section(
        "reminders/nurse/_replies.html",
        newest=max((text.received_at for text in texts), default=None),
        answers=answers[: replies.ANSWERS_SHOWN],
        more_answers=len(answers) > replies.ANSWERS_SHOWN,
        texts=texts,
        zone=location.tz,
    )


def connect() -> None:
    uid = "reminders"
    events.procedure_changed.connect(plan_again, dispatch_uid=uid)
    events.notice_preview.connect(notice_text, dispatch_uid=uid)
    events.invitation_requested.connect(invite, dispatch_uid=uid)
    events.warning_sign_reported.connect(alert_team, dispatch_uid=uid)
    events.nurse_sections.connect(nurse_section, dispatch_uid=uid)
    events.nurse_sections.connect(replies_section, dispatch_uid="reminders-replies")
    account_events.account_message.connect(account_message, dispatch_uid=uid)
    account_events.landing.connect(ask_about_texts_first, dispatch_uid=uid)
    account_events.health.connect(health.report, dispatch_uid=uid)
    portal_metrics.register(metrics.COLLECTOR)
