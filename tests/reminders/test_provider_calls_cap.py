"""All send workers together never have more calls out to Twilio than its account takes.

PROVIDER_SEND_THREADS bounds one worker process; TWILIO_CONCURRENCY (leases in a
real Redis) bounds all of them. Two send tasks run side by side on their own
database connections against a fake Twilio that holds every call until the test
lets it answer, so the moment both tasks want more calls than the account takes
is made to happen, not hoped for.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from unittest import mock

import pytest
import redis
from django.utils import timezone

from reminders import dispatch, handover, slots
from reminders.models import Reminder, Status

from . import test_side_by_side_handover as side_by_side
from .test_side_by_side_handover import WAIT, book_family, number_of, queued_texts, statuses, wait_until
from .threads import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_quiet_hours")]

twilio = side_by_side.twilio  # the fake Twilio at the wrapper, three calls a worker process


@pytest.fixture
def account(settings, redis_url, twilio) -> str:
    """A Twilio account of this test alone, so no other test's leases count against it."""
    settings.REDIS_URL = redis_url
    settings.TWILIO_ACCOUNT_SID = f"AC{uuid.uuid4().hex}"
    return settings.TWILIO_ACCOUNT_SID


def test_two_workers_together_never_have_more_calls_out_than_the_account_takes(
    postgres, account, twilio, location, nurse, settings, monkeypatch
):
    settings.PROVIDER_CONCURRENCY = {**settings.PROVIDER_CONCURRENCY, "twilio": 3}  # as many as one worker's round
    first, second = (queued_texts(*(book_family(location, nurse) for _ in range(3))) for _ in range(2))
    release = threading.Event()
    waited = threading.Event()
    pause = slots._pause

    def noting_the_wait() -> None:
        waited.set()
        pause()

    monkeypatch.setattr(slots, "_pause", noting_the_wait)
    fake = twilio(lambda to: release.wait(WAIT))
    errors: list[BaseException] = []
    senders = [in_thread(lambda ids=ids: dispatch.send_many(ids), errors) for ids in (first, second)]
    try:
        # One worker's three calls are out; the other's round waits for a lease, holding nothing.
        wait_until(lambda: fake.in_flight == 3 and waited.is_set(), "three calls out and a round waiting")
        assert fake.most_in_flight == 3
        # The round out is claimed; the waiting round is still queued, held by its worker's live lease,
        # so a worker that stops now leaves rows that plainly never left.
        assert sorted(statuses(first + second).values()) == [Status.QUEUED] * 3 + [Status.SENDING] * 3
        waiting = Reminder.objects.filter(pk__in=first + second, status=Status.QUEUED)
        assert all(row.lease_owner and row.lease_until > timezone.now() for row in waiting)
    finally:
        release.set()
        for sender in senders:
            sender.join(WAIT)
    assert not errors, errors
    assert statuses(first + second) == dict.fromkeys(first + second, Status.SENT)
    assert Counter(fake.taken) == Counter(number_of(pk) for pk in first + second)  # each once
    assert fake.most_in_flight == 3
    # Every lease was given back.
    assert len(slots.take("twilio", 3)) == 3 and slots.take("twilio", 1) == []


def test_a_round_takes_what_is_free_and_hands_over_the_rest_after(
    postgres, account, twilio, location, nurse, settings, monkeypatch
):
    settings.PROVIDER_CONCURRENCY = {**settings.PROVIDER_CONCURRENCY, "twilio": 4}
    held = slots.take("twilio", 2)  # another worker's calls, out for the whole test
    fake = twilio()
    ids = queued_texts(*(book_family(location, nurse) for _ in range(3)))
    rounds: list[int] = []
    hand_over = handover.hand_over_or_leave

    def noting(transport, group, now):
        rounds.append(len(group))
        return hand_over(transport, group, now)

    monkeypatch.setattr(dispatch, "hand_over_or_leave", noting)

    assert dispatch.send_many(ids) == dict.fromkeys(ids, Status.SENT)
    assert rounds == [2, 1]  # the two leases free, then one given back
    assert fake.most_in_flight <= 2
    assert Counter(fake.taken) == Counter(number_of(pk) for pk in ids)
    assert len(held) == 2 and len(slots.take("twilio", 4)) == 2  # the other worker's two are still out


def test_leases_of_a_worker_that_stopped_run_out(account, settings):
    settings.PROVIDER_CONCURRENCY = {**settings.PROVIDER_CONCURRENCY, "twilio": 3}
    assert len(slots.take("twilio", 5, seconds=0.3)) == 3  # then its worker stops: never given back
    assert slots.take("twilio", 1) == []
    wait_until(lambda: len(slots.take("twilio", 1, seconds=60)) == 1, "a lease that ran out is free again")


def test_without_redis_each_worker_keeps_its_own_bound(settings):
    settings.REDIS_URL = ""
    with slots.calls("twilio", 25) as allowed:
        assert allowed == 25


def test_no_shared_bound_is_set_for_the_outbox_or_when_it_is_zero(account, settings):
    with slots.calls("outbox", 50) as allowed:
        assert allowed == 50
    settings.PROVIDER_CONCURRENCY = {**settings.PROVIDER_CONCURRENCY, "twilio": 0}
    with slots.calls("twilio", 25) as allowed:
        assert allowed == 25


def test_a_redis_that_does_not_answer_does_not_hold_texts_back(settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    settings.PROVIDER_CONCURRENCY = {"twilio": 3, "email": 2}
    asked: list[str] = []

    def refused(provider: str, *args: object, **kwargs: object) -> None:
        asked.append(provider)
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(slots, "take", refused)
    # The warning itself, not the log's handlers: another test may have configured logging its own way.
    warned = mock.Mock()
    monkeypatch.setattr(slots.logger, "warning", warned)
    with slots.calls("twilio", 25) as allowed:
        assert allowed == 25
    assert asked == ["twilio"]
    assert warned.call_args.args[0] == "provider calls not counted across workers: Redis did not answer"


def test_the_mail_relay_and_twilio_are_counted_apart(account, settings):
    settings.EMAIL_HOST = f"relay-{uuid.uuid4().hex}.example.org"
    settings.PROVIDER_CONCURRENCY = {"twilio": 3, "email": 2}
    assert len(slots.take("email", 5)) == 2  # one connection per email, two at once to this relay
    assert len(slots.take("twilio", 5)) == 3
    settings.EMAIL_HOST = f"other-{uuid.uuid4().hex}.example.org"
    assert len(slots.take("email", 5)) == 2  # another relay counts its own
