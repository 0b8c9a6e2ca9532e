"""A family's answer by text: yes, can't come, running late, or anything else for the care team to read.

The booking and evening texts end with "Reply YES to confirm, or call ...".
A reply answers for the guardian's next upcoming procedure, at the version it
is at now: a reschedule makes the care team's "confirmed" a "not yet" again.
Opt-out words are read first (reminders.webhooks); every text is kept.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.phones import display as phone_display
from procedures import fasting_display
from procedures.models import Guardian, Location, Patient, Procedure

from .models import InboundText, Reply

# fmt: off
WORDS = {
    Reply.CONFIRMED: [
        "yes", "y", "yes confirm", "yes confirmed", "yep", "yeah", "confirm", "confirmed", "c", "1",
        "si", "sí", "si confirmo", "confirmo", "confirmado", "confirmar", "claro", "si vamos", "si ahi estaremos",
        "we will be there", "see you then", "see you there",
    ],
    Reply.CANT_COME: [
        "no", "cant", "can t", "cannot", "can not", "cant come", "can t come", "cannot come", "we cant come",
        "we can t come", "cant make it", "can t make it", "not coming", "we are not coming",
        "no puedo", "no podemos", "no puedo ir", "no podemos ir", "no vamos", "no iremos", "no voy",
        "no vamos a ir", "no podre", "no podremos",
    ],
    Reply.LATE: [
        "late", "running late", "we are late", "we re late", "we will be late", "will be late", "be late",
        "im late", "i m late", "i am late", "late sorry", "running behind",
        "tarde", "llego tarde", "llegamos tarde", "llegaremos tarde", "vamos tarde", "voy tarde",
        "vamos a llegar tarde", "voy a llegar tarde", "retraso", "con retraso",
    ],
}
# Words around the answer that do not change it ("Yes, thank you!", "Sí, gracias").
AROUND = frozenset([
    "please", "thanks", "thank", "you", "thx", "ok", "okay", "sorry", "the", "appointment", "visit", "for",
    "gracias", "por", "favor", "ok", "perdon", "lo", "siento", "la", "cita", "a", "de",
])
# fmt: on


def words(text: str) -> list[str]:
    """Lower case, no accents, no punctuation: "¡Párá ya!" -> ["para", "ya"] (keywords and answers alike)."""
    plain = "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
    return re.sub(r"[\W_]+", " ", plain.casefold()).split()


def _core(text: str) -> str:
    return " ".join(word for word in words(text) if word not in AROUND)


PHRASES = {_core(phrase): meaning for meaning, phrases in WORDS.items() for phrase in phrases}


def meaning_of(body: str) -> str:
    """What a reply says about coming (confirmed, can't come, late), else a message for the care team."""
    return PHRASES.get(_core(body), Reply.MESSAGE)


@dataclass(frozen=True)
class Outcome:
    inbound: InboundText
    acknowledgement: str


def _upcoming(guardians: list[Guardian], now: dt.datetime) -> QuerySet[Procedure]:
    return (
        Procedure.objects.active()
        .filter(patient__in=Patient.objects.filter(guardians__in=guardians), scheduled_start__gte=now)
        .select_related("patient", "location")
        .order_by("scheduled_start", "pk")
    )


def _confirmed(procedure: Procedure) -> bool:
    latest = (
        InboundText.objects.filter(procedure=procedure).answers_for_current_version().order_by("-received_at", "-pk")
    )
    first = latest.values_list("meaning", flat=True).first()
    return first == Reply.CONFIRMED


def _when(procedure: Procedure) -> str:
    local = procedure.local_arrival
    return _("%(day)s at %(time)s") % {"day": fasting_display.weekday(local), "time": fasting_display.clock(local)}


def record(
    *, number: str, body: str, sid: str, guardians: list[Guardian], meaning: str, now: dt.datetime
) -> InboundText:
    """Keep a text that is not an answer (opt-out, help, an unknown number, anything else)."""
    procedure = _upcoming(guardians, now).first() if guardians else None
    guardian = _guardian_of(procedure, guardians)
    location = procedure.location if procedure else _location_of(guardians)
    return InboundText.objects.create(
        received_at=now,
        from_number=number,
        body=body,
        provider_message_id=sid,
        meaning=meaning,
        guardian=guardian,
        procedure=procedure,
        procedure_version=procedure.version if procedure else None,
        location=location,
    )


def _guardian_of(procedure: Procedure | None, guardians: list[Guardian]) -> Guardian | None:
    if not guardians:
        return None
    if procedure is not None:
        linked = set(procedure.patient.guardians.values_list("pk", flat=True))
        return next((guardian for guardian in guardians if guardian.pk in linked), guardians[0])
    return guardians[0]


def _location_of(guardians: list[Guardian]) -> Location | None:
    return Location.objects.filter(patients__guardians__in=guardians).order_by("pk").first() if guardians else None


def answer(*, number: str, body: str, sid: str, guardians: list[Guardian], now: dt.datetime | None = None) -> Outcome:
    """Read a guardian's reply, keep it, and say (in the guardian's language, already active) what was done."""
    now = now or timezone.now()
    meaning = meaning_of(body)
    with transaction.atomic():
        upcoming = list(_upcoming(guardians, now).select_for_update(of=("self",))) if guardians else []
        if meaning == Reply.MESSAGE or not upcoming:
            inbound = record(number=number, body=body, sid=sid, guardians=guardians, meaning=Reply.MESSAGE, now=now)
            return Outcome(inbound, _message_acknowledgement(inbound, guardians, found=bool(upcoming)))
        procedure = upcoming[0]
        if meaning == Reply.CONFIRMED:
            # Two children booked: each YES confirms the next one not confirmed yet.
            procedure = next((p for p in upcoming if not _confirmed(p)), upcoming[0])
        inbound = InboundText.objects.create(
            received_at=now,
            from_number=number,
            body=body,
            provider_message_id=sid,
            meaning=meaning,
            guardian=_guardian_of(procedure, guardians),
            procedure=procedure,
            procedure_version=procedure.version,
            location=procedure.location,
        )
        others = [p for p in upcoming if p.pk != procedure.pk and not _confirmed(p)]
    return Outcome(inbound, _acknowledgement(meaning, procedure, others))


def _acknowledgement(meaning: str, procedure: Procedure, others: list[Procedure]) -> str:
    values = {
        "name": procedure.patient.first_name,
        "when": _when(procedure),
        "phone": phone_display(procedure.location.phone),
    }
    if meaning == Reply.CONFIRMED:
        text = _("Thank you. %(name)s's visit %(when)s is confirmed.") % values
        if others:
            text += " " + _("To confirm %(other)s's visit too, reply YES again.") % {
                "other": others[0].patient.first_name
            }
        return text
    if meaning == Reply.LATE:
        return _("Thank you. We told the care team you will be late for %(name)s's visit. Call %(phone)s.") % values
    return _("Thank you. We told the care team you can't come to %(name)s's visit. They will call you.") % values


def _message_acknowledgement(inbound: InboundText, guardians: list[Guardian], *, found: bool) -> str:
    location = inbound.location
    if not guardians or location is None:
        return ""  # a number we do not know: kept for the nurses, no answer to a stranger
    return _("We got your message and the care team will read it. If it is urgent, call %(phone)s.") % {
        "phone": phone_display(location.phone)
    }


# For families who don't text: the same two answers from a button on their page.
PAGE_WORDS = {
    Reply.LATE: gettext_noop("We're running late"),
    Reply.CANT_COME: gettext_noop("We can't come"),
}


def from_page(*, guardian: Guardian, procedure: Procedure, meaning: str, now: dt.datetime | None = None) -> str:
    """Keep an answer given on the family's page; returns the acknowledgement the page shows."""
    if meaning not in PAGE_WORDS:
        raise ValueError(meaning)
    InboundText.objects.create(
        received_at=now or timezone.now(),
        by_text=False,
        from_number=guardian.mobile_number,
        body=_(PAGE_WORDS[meaning]),
        meaning=meaning,
        guardian=guardian,
        procedure=procedure,
        procedure_version=procedure.version,
        location=procedure.location,
    )
    return _acknowledgement(meaning, procedure, [])


def mark_answered(*, inbound: InboundText, by: object, now: dt.datetime | None = None) -> bool:
    """The care team has dealt with it; False if someone already had."""
    done = InboundText.objects.filter(pk=inbound.pk, answered_at__isnull=True).update(
        answered_at=now or timezone.now(), answered_by=by
    )
    return done == 1


# --- What nurses see -------------------------------------------------------------


def with_answers(procedures: QuerySet[Procedure]) -> QuerySet[Procedure]:
    """Each procedure with its family's latest answer at its current version (`answer`, `answer_from`)."""
    latest = InboundText.objects.filter(
        procedure=OuterRef("pk"), procedure_version=OuterRef("version"), meaning__in=[*WORDS]
    ).order_by("-received_at", "-pk")
    return procedures.annotate(
        answer=Subquery(latest.values("meaning")[:1]),
        answer_from=Subquery(latest.values("from_number")[:1]),
        answer_at=Subquery(latest.values("received_at")[:1]),
    )


# The board lists this many answers at most (a busy unit's two days); the day list has every child.
ANSWERS_SHOWN = 40


def upcoming_answers(location: Location, now: dt.datetime, *, limit: int = ANSWERS_SHOWN) -> list[Procedure]:
    """The clinic's procedures from now to the end of tomorrow (its time), each with its family's answer.

    One more than `limit` is read, so the caller knows there are more.
    """
    today = timezone.localtime(now, location.tz).date()
    end = dt.datetime.combine(today + dt.timedelta(days=2), dt.time.min, tzinfo=location.tz)
    rows = (
        Procedure.objects.active()
        .filter(location=location, scheduled_start__gte=now, scheduled_start__lt=end)
        .select_related("patient", "location")
        .order_by("scheduled_start", "pk")
    )
    return list(with_answers(rows)[: limit + 1])


def recent(location: Location, now: dt.datetime, *, days: int = 7, limit: int = 20) -> list[InboundText]:
    """The clinic's texts of the last days, newest first, and those from numbers no guardian has."""
    rows = (
        InboundText.objects.filter(received_at__gte=now - dt.timedelta(days=days))
        .filter(Q(location=location) | Q(guardian__isnull=True, location__isnull=True))
        .select_related("guardian__user", "procedure__patient")
        .order_by("-received_at", "-pk")
    )
    return list(rows[:limit])
