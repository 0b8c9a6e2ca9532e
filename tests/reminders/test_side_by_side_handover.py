"""A send task hands several texts to Twilio at once, each as safely as alone.

Up to PROVIDER_SEND_THREADS messages of a network provider are handed over in
one transaction that holds their procedures, their calls to the provider made
at the same time by threads that only wait on it. The fake Twilio sits at the
one wrapper (`reminders.http.post`) and makes each moment explicit: a barrier
that only opens when that many texts are in flight together, events the test
releases, and PostgreSQL's own word that a hand-over or a change waits for a
lock. Handed over one after another, the barrier never opens and these tests fail.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from unittest import mock

import psycopg2
import pytest
from django.db import connection, connections, transaction
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from procedures import services
from procedures.models import Procedure
from reminders import channels, dispatch, handover, http
from reminders.models import AttemptOutcome, DeliveryAttempt, EarlyStatus, Kind, Reminder, Status
from tests.factories import GuardianFactory, PatientFactory

from .conftest import book, payload
from .threads import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_quiet_hours")]

WAIT = 20  # seconds before a test gives up on a moment that never comes
numbers = itertools.count(1000)


class Twilio:
    """Twilio's Messages API at the wrapper: `answer` may wait, answer otherwise or raise; else it accepts.

    It notes each text it accepted, how many were in flight at most, and
    whether a call came from a thread holding a database connection.
    """

    def __init__(self, answer: Callable[[str], object]) -> None:
        self.answer = answer
        self.lock = threading.Lock()
        self.taken: list[str] = []
        self.threads: set[int] = set()
        self.callers: set[threading.Thread] = set()  # the thread objects themselves: an ident can be reused
        self.in_flight = self.most_in_flight = 0
        self.connected: list[bool] = []  # per call from a thread other than the task's

    def post(self, url: str, data: dict[str, str], *, auth: tuple[str, str] | None = None) -> http.Response:
        with self.lock:
            self.threads.add(threading.get_ident())
            self.callers.add(threading.current_thread())
            if threading.get_ident() != self.task:
                self.connected.append(connections["default"].connection is not None)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            answer = self.answer(data["To"])
        finally:
            with self.lock:
                self.in_flight -= 1
        if isinstance(answer, http.Response):
            return answer
        with self.lock:
            self.taken.append(data["To"])
            sid = f"SM{len(self.taken):032d}"
        return http.Response(201, {"sid": sid, "status": "queued"})


@pytest.fixture
def twilio(settings, monkeypatch) -> Callable[..., Twilio]:
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "token"
    settings.TWILIO_FROM_NUMBER = "+13125550000"
    settings.PROVIDER_SEND_THREADS = 3

    def install(answer: Callable[[str], object] = lambda to: None) -> Twilio:
        fake = Twilio(answer)
        fake.task = threading.get_ident()  # the thread that runs the send task: the test's own
        monkeypatch.setattr(http, "post", fake.post)
        return fake

    return install


def book_family(location, nurse, *, guardians: int = 1) -> Procedure:
    """A procedure booked as a nurse books it: its confirmation texts are due now."""
    now = timezone.now()
    family = [
        GuardianFactory(
            mobile_number=f"+1312555{next(numbers):04d}", sms_enabled=True, sms_consent_at=now, sms_consent_text="Yes"
        )
        for _ in range(guardians)
    ]
    patient = PatientFactory(location=location, guardians=family)
    return book(patient, nurse, arrival=(now + dt.timedelta(days=3)).replace(second=0, microsecond=0))


def queued_texts(*procedures: Procedure) -> list[int]:
    """Beat's claim; these procedures' texts, in the order a send task takes them."""
    dispatch.claim_due(enqueue=lambda pk: None)
    rows = Reminder.objects.filter(procedure__in=procedures, channel="sms", status=Status.QUEUED)
    return list(rows.order_by("pk").values_list("pk", flat=True))


def number_of(reminder_id: int) -> str:
    return Reminder.objects.select_related("guardian").get(pk=reminder_id).guardian.mobile_number


def statuses(ids: list[int]) -> dict[int, str]:
    return dict(Reminder.objects.filter(pk__in=ids).values_list("pk", "status"))


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


def waiting_for_a_lock(*, query: str = "%", pid: int | None = None) -> int:
    """Sessions of this database that PostgreSQL says wait for a lock (running `query`, or this one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s AND (%s::int IS NULL OR pid = %s)",
            [query, pid, pid],
        )
        return cursor.fetchone()[0]


def reschedule(procedure: Procedure, nurse) -> Callable[[], Procedure]:
    later = procedure.scheduled_start + dt.timedelta(days=1)
    return lambda: services.update_procedure(
        procedure=procedure, changed_by=nurse, scheduled_start=later, arrival_at=later - dt.timedelta(hours=1)
    )


def test_texts_go_to_twilio_as_many_at_once_as_the_setting_allows(twilio, location, nurse):
    three_at_once = threading.Barrier(3)
    fake = twilio(lambda to: three_at_once.wait(WAIT))
    ids = queued_texts(*(book_family(location, nurse) for _ in range(9)))
    assert len(ids) == 9

    results = dispatch.send_many(ids)

    assert results == dict.fromkeys(ids, Status.SENT)
    assert set(statuses(ids).values()) == {Status.SENT}
    assert Counter(fake.taken) == Counter(number_of(pk) for pk in ids)  # each once
    assert fake.most_in_flight == 3  # three at once, never a fourth
    # The calls wait on Twilio only: not one of their threads had a database connection.
    assert len(fake.connected) == 9 and not any(fake.connected)


def test_the_same_threads_make_the_calls_of_every_round_and_every_task(twilio, location, nurse):
    three_at_once = threading.Barrier(3)
    fake = twilio(lambda to: three_at_once.wait(WAIT))
    first, second = (queued_texts(*(book_family(location, nurse) for _ in range(6))) for _ in range(2))

    assert dispatch.send_many(first) == dict.fromkeys(first, Status.SENT)
    callers = set(fake.callers)
    assert dispatch.send_many(second) == dict.fromkeys(second, Status.SENT)

    assert len(callers) == 3 and fake.callers == callers  # four rounds, three threads started
    # A forked worker process cannot use its parent's threads: it starts its own.
    handover._callers.made_for = (-1, 3)
    assert dispatch.send_many(queued_texts(*(book_family(location, nurse) for _ in range(3))))
    assert len(fake.callers) == 6


def test_the_calls_need_no_database_connection_of_their_own(postgres, twilio, location, nurse):
    """A database that takes no more connections does not hold texts back: only the task's own is used."""
    three_at_once = threading.Barrier(3)
    fake = twilio(lambda to: three_at_once.wait(WAIT))
    ids = queued_texts(*(book_family(location, nurse) for _ in range(6)))
    task = threading.get_ident()
    connect = DatabaseWrapper.get_new_connection

    def full_server(self, params):
        if threading.get_ident() != task:
            raise psycopg2.OperationalError("FATAL:  sorry, too many clients already")
        return connect(self, params)

    with mock.patch.object(DatabaseWrapper, "get_new_connection", full_server):
        results = dispatch.send_many(ids)

    assert results == dict.fromkeys(ids, Status.SENT)
    assert Counter(fake.taken) == Counter(number_of(pk) for pk in ids)
    assert fake.most_in_flight == 3 and task not in fake.threads


def test_a_hung_a_refused_and_a_broken_text_leave_the_others_sent(twilio, location, nurse, settings, caplog):
    settings.PROVIDER_SEND_THREADS = 6
    ids = queued_texts(*(book_family(location, nurse) for _ in range(6)))
    hung, refused, broken, *fine = (number_of(pk) for pk in ids)
    lock, gone, others_gone = threading.Lock(), set(), threading.Event()

    def answer(to: str) -> http.Response | None:
        if to == hung:
            # It holds its call until the others are answered (one after another they never would be),
            # then the read times out.
            assert others_gone.wait(WAIT), "the other texts waited for the hung one"
            raise http.NoAnswer("The read operation timed out")
        if to == refused:
            return http.Response(400, payload("twilio_error_21211"))
        if to == broken:
            raise RuntimeError("a fault of our own while handing it over")
        with lock:
            gone.add(to)
            if gone == set(fine):
                others_gone.set()
        return None

    fake = twilio(answer)

    results = dispatch.send_many(ids)

    pk = {number_of(reminder_id): reminder_id for reminder_id in ids}
    ended = {pk[hung]: Status.UNKNOWN, pk[refused]: Status.FAILED, **{pk[n]: Status.SENT for n in fine}}
    assert results == ended
    # The broken one is left sending, as if its worker had stopped: the sweep finds out what became of it.
    assert statuses(ids) == {**ended, pk[broken]: Status.SENDING}
    assert "hand-over failed" in [record.getMessage() for record in caplog.records]
    outcomes = dict(DeliveryAttempt.objects.filter(reminder_id__in=ids).values_list("reminder_id", "outcome"))
    assert (outcomes[pk[hung]], outcomes[pk[refused]]) == (AttemptOutcome.UNKNOWN, AttemptOutcome.PERMANENT)
    assert outcomes[pk[broken]] == AttemptOutcome.PENDING  # no answer to record: the attempt stays open
    assert Reminder.objects.get(pk=pk[refused]).last_error == channels.TWILIO_PERMANENT[21211]
    assert Counter(fake.taken) == Counter(fine)


def test_a_change_during_the_hand_overs_waits_for_all_of_them_and_its_notices_follow(postgres, twilio, location, nurse):
    changed = book_family(location, nurse, guardians=2)
    ids = queued_texts(changed, book_family(location, nurse))
    assert len(ids) == 3
    in_flight, release = threading.Semaphore(0), threading.Event()

    def held(to: str) -> None:
        in_flight.release()
        assert release.wait(WAIT), "the test never let the provider answer"

    fake = twilio(held)
    errors: list[BaseException] = []
    change_pids: list[int] = []
    sender = in_thread(lambda: dispatch.send_many(ids), errors)
    changer = None
    try:
        for _ in ids:
            assert in_flight.acquire(timeout=WAIT), "the texts were not handed over side by side"
        changer = in_thread(reschedule(changed, nurse), errors, change_pids)
        wait_until(lambda: change_pids and waiting_for_a_lock(pid=change_pids[0]), "the change waits")
        assert Procedure.objects.get(pk=changed.pk).version == 1
    finally:
        release.set()
        sender.join(WAIT)
        if changer:
            changer.join(WAIT)
    assert not errors, errors
    assert set(statuses(ids).values()) == {Status.SENT}
    assert len(fake.taken) == 3
    assert Procedure.objects.get(pk=changed.pk).version == 2
    notices = Reminder.objects.filter(procedure=changed, kind=Kind.CHANGED, procedure_version=2, channel="sms")
    assert list(notices.values_list("status", flat=True)) == [Status.SCHEDULED] * 2


def test_a_change_committed_first_withdraws_its_texts_and_the_others_go(postgres, twilio, location, nurse):
    changed = book_family(location, nurse, guardians=2)
    ids = queued_texts(changed, book_family(location, nurse, guardians=2))
    ours = set(Reminder.objects.filter(pk__in=ids, procedure=changed).values_list("pk", flat=True))
    assert len(ours) == 2 and len(ids) == 4
    fake = twilio()
    errors: list[BaseException] = []
    locked, go = threading.Event(), threading.Event()

    def change_once_the_texts_are_claimed() -> None:
        with transaction.atomic():
            # The change path's first step, taken early: hold the procedure row until told.
            Procedure.objects.select_for_update().get(pk=changed.pk)
            locked.set()
            assert go.wait(WAIT)
            reschedule(changed, nurse)()

    changer = in_thread(change_once_the_texts_are_claimed, errors)
    sender = None
    try:
        assert locked.wait(WAIT)
        sender = in_thread(lambda: dispatch.send_many(ids), errors)
        # The hand-over waits for the change before any text goes: nothing is sent with the old times.
        wait_until(lambda: waiting_for_a_lock(query="%FOR SHARE%") == 1, "the hand-over waits")
        assert fake.taken == []
        # The round being handed over is claimed; a later round still waits its turn, queued.
        assert Status.SENDING in set(statuses(ids).values()) <= {Status.SENDING, Status.QUEUED}
    finally:
        go.set()
        changer.join(WAIT)
        if sender:
            sender.join(WAIT)
    assert not errors, errors
    assert sorted(fake.taken) == sorted(number_of(pk) for pk in set(ids) - ours)
    assert statuses(ids) == {pk: Status.CANCELLED if pk in ours else Status.SENT for pk in ids}
    withdrawn = DeliveryAttempt.objects.filter(reminder_id__in=ours).values_list("outcome", flat=True)
    assert list(withdrawn) == [AttemptOutcome.WITHDRAWN] * 2


def test_inside_the_callers_transaction_texts_still_go_side_by_side(twilio, location, nurse):
    """The calls' threads never read the database, so they need not see the caller's uncommitted claim."""
    three_at_once = threading.Barrier(3)
    fake = twilio(lambda to: three_at_once.wait(WAIT))
    ids = queued_texts(*(book_family(location, nurse) for _ in range(3)))
    with transaction.atomic():
        results = dispatch.send_many(ids)
        assert set(statuses(ids).values()) == {Status.SENT}
    assert results == dict.fromkeys(ids, Status.SENT)
    assert fake.most_in_flight == 3


def test_one_thread_means_one_after_another(twilio, location, nurse, settings):
    settings.PROVIDER_SEND_THREADS = 1
    fake = twilio()
    ids = queued_texts(*(book_family(location, nurse) for _ in range(3)))
    assert dispatch.send_many(ids) == dict.fromkeys(ids, Status.SENT)
    assert fake.threads == {threading.get_ident()}
    assert fake.most_in_flight == 1


def test_a_delivery_callback_that_lands_during_the_hand_over_is_applied_once_the_task_ends(
    postgres, twilio, location, nurse, settings
):
    settings.TWILIO_AUTH_TOKEN, settings.SITE_URL = "callback-token", "https://portal.example.org"
    ids = queued_texts(*(book_family(location, nurse) for _ in range(3)))
    early = number_of(ids[1])
    errors: list[BaseException] = []

    def callback(sid: str) -> None:
        data = {"MessageSid": sid, "MessageStatus": "delivered"}
        path = reverse("reminders:twilio_status")
        signature = RequestValidator("callback-token").compute_signature(settings.SITE_URL + path, data)
        assert Client().post(path, data, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 204

    def answer(to: str) -> http.Response | None:
        if to != early:
            return None
        # Twilio calls back, from its side, before its answer to us arrives: the id is not stored yet.
        webhook = in_thread(lambda: callback("SMearly"), errors)
        webhook.join(WAIT)
        return http.Response(201, {"sid": "SMearly", "status": "queued"})

    twilio(answer)
    results = dispatch.send_many(ids)

    assert not errors, errors
    assert results == dict.fromkeys(ids, Status.SENT)
    reminder = Reminder.objects.get(provider_message_id="SMearly")
    assert reminder.pk == ids[1] and reminder.status == Status.DELIVERED
    assert not EarlyStatus.objects.filter(applied_at__isnull=True).exists()
    assert {statuses(ids)[pk] for pk in (ids[0], ids[2])} == {Status.SENT}
