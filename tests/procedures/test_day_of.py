"""Running late and marking done: the plan, the family's page and the messages follow."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from procedures import services
from procedures.models import Procedure, ProcedureStatus
from reminders import dispatch
from reminders.models import Kind, OutboxMessage, Reminder, Status
from tests.reminders.conftest import book

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC
EVENING_BEFORE = dt.datetime(2026, 6, 10, 23, 30, tzinfo=UTC)  # 18:30 CDT Wednesday
MORNING = dt.datetime(2026, 6, 11, 11, 0, tzinfo=UTC)  # 06:00 CDT Thursday


@pytest.fixture
def booked(patient, nurse, guardian):
    with time_machine.travel(dt.datetime(2026, 6, 8, 15, 0, tzinfo=UTC), tick=False):
        return book(patient, nurse, arrival=dt.datetime(2026, 6, 11, 7, 30, tzinfo=CHICAGO))


def _late(client, procedure, **data):
    # The form carries the version the nurse saw, as the page's hidden field does.
    data.setdefault("version", Procedure.objects.get(pk=procedure.pk).version)
    return client.post(reverse("nurse:procedure_running_late", args=[procedure.pk]), data)


def _send_due():
    for pk in dispatch.claim_due(enqueue=lambda pk: None):
        dispatch.send(pk)


def test_running_late_moves_the_times_and_clear_fluids_with_them(client, nurse, guardian, booked):
    with time_machine.travel(MORNING, tick=False):
        client.force_login(nurse)
        assert _late(client, booked, minutes=45).status_code == 302
        _send_due()
        client.force_login(guardian.user)
        page = client.get(reverse("family:procedure", args=[booked.pk])).content.decode()
    booked.refresh_from_db()
    assert booked.local_start.strftime("%H:%M") == "09:15"
    assert booked.running_late_minutes == 45
    message = OutboxMessage.objects.get(reminder__kind=Kind.DELAYED)
    assert "running about 45 minutes late" in message.body
    assert "may keep drinking clear fluids until today at 7:15 AM" in message.body
    assert "Stop clear fluids today at 7:15 AM." in page
    assert "Running about 45 minutes late" in page


def test_one_message_per_channel_goes_at_once(client, nurse, texting_guardian, booked):
    with time_machine.travel(MORNING, tick=False):
        client.force_login(nurse)
        _late(client, booked, minutes=30)
        delayed = Reminder.objects.filter(kind=Kind.DELAYED)
        assert sorted(delayed.values_list("channel", flat=True)) == ["email", "sms"]
        assert all(r.due_at == MORNING for r in delayed)


def test_a_new_start_time_earlier_is_said_loudly(client, nurse, guardian, booked):
    with time_machine.travel(MORNING, tick=False):
        client.force_login(nurse)
        # 06:00: moving 8:30 to 8:00 puts the last clear drink at 6:00, which is now. The nurse sees it first.
        check = _late(client, booked, new_start_time="08:00").content.decode()
        assert "Call these families now" in check and "Alice Parent" in check
        assert not Reminder.objects.filter(kind=Kind.DELAYED).exists()
        assert _late(client, booked, new_start_time="08:00", confirmed="1").status_code == 302
        _send_due()
        client.force_login(guardian.user)
        page = client.get(reverse("family:procedure", args=[booked.pk])).content.decode()
    message = OutboxMessage.objects.get(reminder__kind=Kind.DELAYED)
    assert "IMPORTANT" in message.body and "EARLIER" in message.body
    assert "The time for the last clear drink has passed." in message.body
    assert "If Mia has had anything to eat or drink since 6:00 AM, call us at (312) 555-0100." in message.body
    assert "Stop clear fluids at" not in message.body
    assert "30 minutes EARLIER" in page


def test_running_late_is_refused_days_ahead(client, nurse, booked):
    with time_machine.travel(dt.datetime(2026, 6, 8, 16, 0, tzinfo=UTC), tick=False):
        client.force_login(nurse)
        response = _late(client, booked, minutes=30)
    assert "today&#x27;s and tomorrow&#x27;s procedures" in response.content.decode()
    assert Procedure.objects.get().version == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Give either the minutes late or the new start time"),
        ({"minutes": "10", "new_start_time": "09:00"}, "Give either the minutes late or the new start time"),
        ({"minutes": "-5"}, "greater than or equal to 5"),
        ({"minutes": "lots"}, "Enter a whole number"),
        ({"new_start_time": "05:00"}, "already passed"),
    ],
)
def test_bad_running_late_input_gets_a_message(client, nurse, booked, data, message):
    with time_machine.travel(MORNING, tick=False):
        client.force_login(nurse)
        response = _late(client, booked, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Procedure.objects.get().version == 1


def test_marking_done_plans_aftercare_from_the_end_time(client, nurse, booked):
    at = dt.datetime(2026, 6, 11, 20, 0, tzinfo=UTC)  # 15:00 CDT
    with time_machine.travel(at, tick=False):
        client.force_login(nurse)
        response = client.post(reverse("nurse:procedure_done", args=[booked.pk]), {"ended_time": "14:40"})
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.status == ProcedureStatus.COMPLETED
    assert booked.local_ended.strftime("%H:%M") == "14:40"
    current = Reminder.objects.filter(procedure_version=booked.version, status=Status.SCHEDULED)
    evening = current.get(kind=Kind.AFTERCARE_EVENING)
    assert evening.due_at == dt.datetime(2026, 6, 11, 23, 0, tzinfo=UTC)  # 18:00 CDT
    assert not current.filter(kind__startswith="fasting").exists()


def test_a_late_finish_moves_the_evening_message_later(nurse, booked):
    with time_machine.travel(dt.datetime(2026, 6, 12, 0, 0, tzinfo=UTC), tick=False):  # 19:00 CDT
        services.mark_done(procedure=booked, ended_at=dt.datetime(2026, 6, 11, 18, 30, tzinfo=CHICAGO), done_by=nurse)
    evening = Reminder.objects.get(kind=Kind.AFTERCARE_EVENING, procedure_version=2)
    assert evening.due_at == dt.datetime(2026, 6, 12, 0, 30, tzinfo=UTC)  # an hour after the end


@pytest.mark.parametrize(
    ("clock", "message"), [("16:00", "cannot be in the future"), ("03:00", "before the procedure")]
)
def test_bad_end_times_get_a_message(client, nurse, booked, clock, message):
    with time_machine.travel(dt.datetime(2026, 6, 11, 20, 0, tzinfo=UTC), tick=False):
        client.force_login(nurse)
        response = client.post(reverse("nurse:procedure_done", args=[booked.pk]), {"ended_time": clock})
    assert message in response.content.decode()
    assert Procedure.objects.get().status == ProcedureStatus.SCHEDULED
