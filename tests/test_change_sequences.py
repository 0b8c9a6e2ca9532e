"""Random sequences of changes after booking, with the clock moving and a flaky provider.

A Hypothesis state machine books one procedure around the night the clocks go
back (Sunday 1 November 2026, Chicago) and then, in any order: reschedules,
marks it running late (sometimes sending the same form twice), sets a longer
fast, changes the clinic's fasting policy and the child's feeding, cancels,
moves the clock, dispatches and sends (the provider sometimes fails for a
while), and looks at the family's page, card and calendar file.

What must hold after every step:
- each message handed over states only times of the plan current at that moment;
- no message asks the family to do something at a time already past;
- no reminder kind reaches a guardian twice on a channel (fasting ones: per day);
- the page, the card, the calendar file and the latest message agree with the plan;
- every change is followed by its notice within one dispatch pass.

`pytest -s tests/test_change_sequences.py` prints how many examples and steps ran.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from portal.models import Role
from procedures import fasting_display, services
from procedures.models import FastingPolicy, Feeding, Procedure
from reminders import channels, dispatch
from reminders.channels import DeliveryError, Message, Transport
from reminders.models import Kind, Reminder, Status
from reminders.planning import ONCE, ONCE_PER_DAY, planned_reminders

from .conftest import state_machine_examples
from .factories import GuardianFactory, LocationFactory, PatientFactory, UserFactory

CHICAGO = ZoneInfo("America/Chicago")
# Thursday noon before the clocks go back early on Sunday.
START = dt.datetime(2026, 10, 29, 12, 0, tzinfo=CHICAGO)
# A clock time as messages give it; noon and midnight are said as words (procedures.day_words).
TIME = re.compile(r"\d{1,2}:\d{2} [AP]M(?: C[DS]T)?|noon|midnight")
# "Stop solid food tonight at 1:30 AM", "until today at 6:30 AM", "Arrive tomorrow at 7:30 AM", "at midnight tonight".
DAY = r"(?:today|tonight|tomorrow|yesterday|last night|[A-Z][a-z]+day(?:, [A-Z][a-z]+ \d{1,2}, \d{4})?)"
INSTRUCTION = re.compile(r"(?:Stop [a-z ]+?|until|after|[Aa]rrive|by) (?:" + DAY + " )?(?:at )?(" + TIME.pattern + ")")
# Sequences run: all under the "full" Hypothesis profile (scripts/full_state_machines.sh), a tenth
# in the suite ("ci"); CHANGE_SEQUENCE_EXAMPLES=N runs N.
EXAMPLES = {"full": 200, "ci": 20}
WORDS = {dt.time(12, 0): "noon", dt.time(0, 0): "midnight"}
STEPS = 30
ran = {"examples": 0, "steps": 0, "handed_over": 0, "changes": 0, "page_checks": 0}


def plan_times(procedure: Procedure) -> dict[str, list[dt.datetime]]:
    """Every clock time the current plan may state, with the moments it stands for."""
    moments = [procedure.local_arrival, procedure.local_start]
    moments += [cutoff.at for cutoff in procedure.fasting_plan().cutoffs]
    # A booking says when the evening fasting text will come.
    moments += [
        planned.due_at.astimezone(procedure.location.tz)
        for planned in planned_reminders(procedure)
        if planned.kind == Kind.FASTING_EVENING
    ]
    found: dict[str, list[dt.datetime]] = {}
    for moment in moments:
        found.setdefault(fasting_display.clock(moment), []).append(moment)
        if moment.time() in WORDS:
            found.setdefault(WORDS[moment.time()], []).append(moment)
    return found


@dataclass
class HandedOver:
    message: Message
    kind: str
    version: int
    at: dt.datetime


class FlakyProvider(Transport):
    """Stands in for every channel. Fails for a while when told to, as a real provider does."""

    name = "flaky"

    def __init__(self, machine: ChangeSequences) -> None:
        self.machine = machine
        self.failures_left = 0

    def __call__(self) -> FlakyProvider:
        return self

    def send(self, message: Message) -> str:
        if self.failures_left:
            self.failures_left -= 1
            raise DeliveryError("503 Service Unavailable")
        self.machine.handed_over(message)
        return f"fake-{message.reminder_id}"


class ChangeSequences(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        ran["examples"] += 1
        self.problems: list[str] = []
        self.log: list[HandedOver] = []
        self.pending_notice: int | None = None
        self.once: set[tuple] = set()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._clock = time_machine.travel(START, tick=False)
        self.traveller = self._clock.start()
        self.provider = FlakyProvider(self)
        self._patch = mock.patch.dict(channels.TRANSPORTS, {"outbox": self.provider})
        self._patch.start()
        self._language = translation.override("en")
        self._language.__enter__()
        self.procedure: Procedure | None = None

    def teardown(self) -> None:
        self._language.__exit__(None, None, None)
        self._patch.stop()
        self._clock.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers -----------------------------------------------------------------------

    @property
    def now(self) -> dt.datetime:
        return timezone.now()

    def current(self) -> Procedure:
        return Procedure.objects.select_related("location", "patient").get(pk=self.procedure.pk)

    def changed(self, before: int) -> None:
        procedure = self.current()
        if procedure.version != before:
            ran["changes"] += 1
            if Reminder.objects.filter(procedure=procedure, procedure_version=procedure.version).filter(
                kind__in=(Kind.CHANGED, Kind.DELAYED, Kind.CANCELLED)
            ):
                self.pending_notice = procedure.version

    def handed_over(self, message: Message) -> None:
        """Called by the provider at the moment of hand-over: check it against the world as it is now."""
        ran["handed_over"] += 1
        reminder = Reminder.objects.get(pk=message.reminder_id)
        procedure = self.current()
        now = self.now
        times = plan_times(procedure)
        for clock in TIME.findall(message.body):
            if clock not in times:
                self.problems.append(f"{reminder.kind} states {clock}, not in the current plan: {message.body!r}")
        for clock in INSTRUCTION.findall(message.body):
            if clock in times and all(moment <= now for moment in times[clock]):
                self.problems.append(f"{reminder.kind} at {now} asks for {clock}, already past: {message.body!r}")
        if reminder.kind in ONCE:
            day = reminder.appointment_day if reminder.kind in ONCE_PER_DAY else None
            key = (message.to, message.channel, reminder.kind, day)
            if key in self.once:
                self.problems.append(f"{reminder.kind} handed over twice to {message.channel}: {key}")
            self.once.add(key)
        self.log.append(HandedOver(message, reminder.kind, reminder.procedure_version, now))
        ran[reminder.kind] = ran.get(reminder.kind, 0) + 1

    # --- rules -------------------------------------------------------------------------

    @initialize(
        days=st.integers(1, 4),
        hour=st.integers(6, 12),
        sedation=st.sampled_from(["general", "sedation", "local"]),
        feeding=st.sampled_from(Feeding.values),
    )
    def book(self, days: int, hour: int, sedation: str, feeding: str) -> None:
        location = LocationFactory()
        self.nurse = UserFactory(role=Role.NURSE)
        location.nurses.add(self.nurse)
        self.guardian = GuardianFactory(
            sms_enabled=True, sms_consent_at=self.now, sms_consent_text="I agree.", user__language="en"
        )
        patient = PatientFactory(location=location, guardians=[self.guardian], feeding=feeding)
        self.policy = FastingPolicy.objects.create()
        day = (START + dt.timedelta(days=days)).date()
        start = dt.datetime.combine(day, dt.time(hour, 30), tzinfo=CHICAGO)
        self.procedure = services.schedule_procedure(
            patient=patient,
            kind="both",
            location=location,
            scheduled_start=start,
            arrival_at=start - dt.timedelta(hours=1),
            sedation=sedation,
            scheduled_by=self.nurse,
        )
        self.pending_notice = None

    @rule(days=st.integers(-1, 3), hour=st.integers(5, 14), minute=st.sampled_from([0, 15, 30, 45]))
    def reschedule(self, days: int, hour: int, minute: int) -> None:
        procedure = self.current()
        day = procedure.local_start.date() + dt.timedelta(days=days)
        start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CHICAGO)
        try:
            services.update_procedure(
                procedure=procedure,
                changed_by=self.nurse,
                based_on=procedure.version,
                scheduled_start=start,
                arrival_at=start - dt.timedelta(hours=1),
            )
        except (services.DayOfError, ValidationError):
            return
        self.changed(procedure.version)

    @rule(minutes=st.sampled_from([-60, -30, -15, 15, 30, 45, 90, 180]), resubmit=st.booleans())
    def running_late(self, minutes: int, resubmit: bool) -> None:
        procedure = self.current()
        try:
            services.mark_running_late(
                procedure=procedure, changed_by=self.nurse, minutes=minutes, based_on=procedure.version
            )
        except services.DayOfError:
            return
        self.changed(procedure.version)
        if resubmit:
            moved = self.current()
            with pytest.raises(services.StaleVersion):
                services.mark_running_late(
                    procedure=procedure, changed_by=self.nurse, minutes=minutes, based_on=procedure.version
                )
            assert self.current().scheduled_start == moved.scheduled_start, "a second submit moved it again"

    @rule(hours=st.sampled_from([None, Decimal("7"), Decimal("9"), Decimal("12")]))
    def override(self, hours: Decimal | None) -> None:
        procedure = self.current()
        try:
            services.update_procedure(procedure=procedure, changed_by=self.nurse, fasting_minimum_hours=hours)
        except services.DayOfError:
            return
        self.changed(procedure.version)

    @rule(clear=st.sampled_from(["1", "2", "3"]), solids=st.sampled_from(["6", "8"]))
    def policy_change(self, clear: str, solids: str) -> None:
        before = self.current().version
        self.policy.clear_fluids_hours, self.policy.solids_hours = Decimal(clear), Decimal(solids)
        services.update_fasting_policy(policy=self.policy, changed_by=None)
        self.changed(before)

    @rule(feeding=st.sampled_from(Feeding.values))
    def feeding_change(self, feeding: str) -> None:
        procedure = self.current()
        patient = procedure.patient
        patient.feeding = feeding
        services.update_child(patient=patient, changed_by=self.nurse)
        self.changed(procedure.version)

    @rule(one_in_ten=st.integers(0, 9))
    def cancel(self, one_in_ten: int) -> None:
        if one_in_ten:
            return  # cancelling ends the story: let it happen now and then
        procedure = self.current()
        services.cancel_procedure(procedure=procedure, reason="Family asked", cancelled_by=self.nurse)
        self.changed(procedure.version)

    def advance_to(self, target: dt.datetime) -> None:
        """Move the clock, with the beat dispatching at each due moment on the way, as it does every 15 s."""
        for _ in range(100):
            due = (
                Reminder.objects.filter(procedure=self.procedure, status=Status.SCHEDULED, due_at__lte=target)
                .order_by("due_at")
                .first()
            )
            if due is None:
                break
            if due.due_at > self.now:
                self.traveller.move_to(due.due_at)
            self.dispatch_and_send()
        if target > self.now:
            self.traveller.move_to(target)

    @rule(minutes=st.integers(5, 1440))
    def clock_moves(self, minutes: int) -> None:
        self.advance_to(self.now + dt.timedelta(minutes=minutes))

    @rule(
        to=st.sampled_from(["evening_before", "morning_text", "last_drink", "arrival", "start"]),
        minutes=st.integers(-30, 30),
    )
    def clock_moves_to_a_moment_that_matters(self, to: str, minutes: int) -> None:
        """Jump to around the moments families act on, where a change hurts most."""
        procedure = self.current()
        plan = procedure.fasting_plan()
        last = plan.cutoffs[-1].at if plan.cutoffs else procedure.local_arrival
        evening = dt.datetime.combine(
            procedure.local_start.date() - dt.timedelta(days=1), procedure.location.evening_reminder_time, CHICAGO
        )
        moments = {
            "evening_before": evening,
            "morning_text": last - dt.timedelta(hours=1),
            "last_drink": last,
            "arrival": procedure.local_arrival,
            "start": procedure.local_start,
        }
        self.advance_to(moments[to] + dt.timedelta(minutes=minutes))

    @rule(failures=st.integers(1, 3))
    def provider_fails_for_a_while(self, failures: int) -> None:
        self.provider.failures_left = failures

    @rule()
    def dispatch_and_send(self) -> None:
        for pk in dispatch.claim_due(enqueue=lambda pk: None):
            dispatch.send(pk)
        if self.pending_notice is None:
            return
        procedure = self.current()
        if procedure.version != self.pending_notice:
            return  # a newer change carries its own notice
        notices = Reminder.objects.filter(
            procedure=procedure,
            procedure_version=procedure.version,
            kind__in=(Kind.CHANGED, Kind.DELAYED, Kind.CANCELLED),
        )
        for notice in notices:
            waiting = notice.status == Status.SCHEDULED and notice.due_at <= self.now and notice.attempts == 0
            if waiting:
                self.problems.append(f"notice {notice.kind} for v{notice.procedure_version} not tried in one pass")
        if all(n.status != Status.SCHEDULED or n.due_at > self.now for n in notices):
            self.pending_notice = None

    @rule()
    def family_looks(self) -> None:
        procedure = self.current()
        if not procedure.is_active:
            return
        ran["page_checks"] += 1
        client = Client()
        client.force_login(self.guardian.user)
        page = client.get(reverse("family:procedure", args=[procedure.pk])).content.decode()
        card = client.get(reverse("family:fasting_card", args=[procedure.pk])).content.decode()
        ics = client.get(reverse("family:calendar", args=[procedure.pk])).content.decode()
        ics = ics.replace("\r\n ", "").replace("\\,", ",")
        times = plan_times(procedure)
        ahead = [cutoff for cutoff in procedure.fasting_plan().cutoffs if cutoff.at > self.now]
        for name, text in (("page", page), ("card", card)):
            for cutoff in ahead:
                if fasting_display.clock(cutoff.at) not in text:
                    self.problems.append(f"the {name} misses the {cutoff.item} cut-off at {cutoff.at}")
        for name, text in (("page", page), ("card", card), ("calendar", ics)):
            for clock in TIME.findall(text):
                if clock not in times:
                    self.problems.append(f"the {name} shows {clock}, not in the current plan")
        latest = [h for h in self.log if h.message.to == self.guardian.mobile_number]
        if latest and latest[-1].version == procedure.version:
            for clock in TIME.findall(latest[-1].message.body):
                if clock not in times:
                    self.problems.append(f"the latest text says {clock}, the page does not")

    @invariant()
    def nothing_went_wrong(self) -> None:
        ran["steps"] += 1
        assert not self.problems, "\n".join(self.problems)


@pytest.mark.django_db
def test_random_change_sequences_keep_every_promise_to_the_family(capsys) -> None:
    run_state_machine_as_test(
        ChangeSequences,
        settings=settings(
            max_examples=int(os.environ.get("CHANGE_SEQUENCE_EXAMPLES", 0)) or state_machine_examples(**EXAMPLES),
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
    with capsys.disabled():
        print(f"\nchange sequences: {ran}")
