"""Every change after booking goes one way: version up, plan again, one notice with the whole picture.

Times below are for a procedure booked Monday 8 June 2026 for Thursday 11 June,
arrival 7:30 AM and start 8:30 AM at a Chicago clinic (CDT), a child on a
regular diet: fatty food until 11:30 PM Wednesday, solids and milk until
1:30 AM, clear fluids until 6:30 AM. Evening reminder 6 PM, morning 5:30 AM.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from procedures import readiness, services
from procedures.models import FastingPolicy, Procedure
from reminders import dispatch, sms
from reminders.models import Kind, OutboxMessage, Reminder, Status
from tests.factories import GuardianFactory
from tests.reminders.conftest import book

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A clinic wall-clock moment in June 2026."""
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=CHICAGO)


@pytest.fixture
def booked(patient, nurse, texting_guardian):
    with time_machine.travel(at(8, 10), tick=False):
        return book(patient, nurse, arrival=at(11, 7, 30))


def send_due(moment: dt.datetime) -> list[OutboxMessage]:
    with time_machine.travel(moment, tick=False):
        before = set(OutboxMessage.objects.values_list("pk", flat=True))
        for pk in dispatch.claim_due(enqueue=lambda pk: None):
            dispatch.send(pk)
        return list(OutboxMessage.objects.exclude(pk__in=before).select_related("reminder"))


def sent(kind: Kind, channel: str = "sms") -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(reminder__kind=kind, channel=channel))


def late(procedure: Procedure, nurse, minutes: int, moment: dt.datetime) -> Procedure:
    with time_machine.travel(moment, tick=False):
        return services.mark_running_late(procedure=procedure, changed_by=nurse, minutes=minutes)


# --- Nothing twice -----------------------------------------------------------------------


def test_running_late_after_the_morning_text_does_not_send_it_again(booked, nurse):
    send_due(at(8, 10))
    send_due(at(10, 18))
    assert len(sent(Kind.FASTING_MORNING)) == 0
    send_due(at(11, 5, 30))
    assert len(sent(Kind.FASTING_MORNING)) == 1
    late(booked, nurse, 45, at(11, 6))
    new = send_due(at(11, 6, 15)) + send_due(at(11, 7))
    assert len(sent(Kind.FASTING_MORNING)) == 1
    (notice,) = [m for m in new if m.channel == "sms"]
    assert notice.reminder.kind == Kind.DELAYED
    assert "may keep drinking clear fluids until 7:15 AM" in notice.body
    assert "Arrive at 8:15 AM." in notice.body


def test_running_late_the_evening_before_does_not_repeat_the_evening_text(booked, nurse):
    send_due(at(8, 10))
    send_due(at(10, 18))
    late(booked, nurse, 30, at(10, 21))
    send_due(at(10, 21))
    assert len(sent(Kind.FASTING_EVENING)) == 1
    assert len(sent(Kind.DELAYED)) == 1
    # The morning text was never sent, so it still comes, at the new time.
    assert send_due(at(11, 5, 30)) == []
    (morning,) = [m for m in send_due(at(11, 6)) if m.channel == "sms"]
    assert "clear drinks until 7:00 AM" in morning.body


def test_moved_to_another_day_the_new_day_gets_its_own_fasting_texts(booked, nurse):
    send_due(at(10, 18))
    with time_machine.travel(at(10, 19), tick=False):
        services.update_procedure(
            procedure=booked, changed_by=nurse, scheduled_start=at(16, 8, 30), arrival_at=at(16, 7, 30)
        )
    send_due(at(10, 19))
    send_due(at(15, 18))
    assert len(sent(Kind.FASTING_EVENING)) == 2


# --- Nothing lost -----------------------------------------------------------------------


def test_a_date_change_is_not_lost_under_a_running_late_notice(patient, nurse, texting_guardian):
    with time_machine.travel(at(8, 10), tick=False):
        friday = book(patient, nurse, arrival=at(12, 7, 30))
    send_due(at(8, 10))
    with time_machine.travel(at(11, 5), tick=False):
        moved = services.update_procedure(
            procedure=friday, changed_by=nurse, scheduled_start=at(11, 11), arrival_at=at(11, 10)
        )
    late(moved, nurse, 30, at(11, 5, 1))
    new = [m for m in send_due(at(11, 5, 2)) if m.channel == "sms"]
    assert [m.reminder.kind for m in new] == [Kind.CHANGED]
    assert "new plan: arrive at 10:30 AM Thu, Jun 11." in new[0].body


# --- Never a passed time as something to do ----------------------------------------------


def test_a_delay_after_the_last_drink_never_says_keep_drinking(patient, nurse, texting_guardian):
    with time_machine.travel(at(8, 10), tick=False):
        procedure = book(patient, nurse, arrival=at(11, 10, 20))
    procedure = late(procedure, nurse, 30, at(11, 10, 35))
    (email,) = [m for m in send_due(at(11, 10, 35)) if m.channel == "email"]
    assert "may keep drinking" not in email.body
    assert "The time for the last clear drink has passed." in email.body
    assert "If Mia has had anything to eat or drink since 9:50 AM, call us at (312) 555-0100." in email.body


# --- Changes that used to slip past the version ------------------------------------------


def test_a_new_fasting_policy_reaches_booked_families(booked, guardian):
    send_due(at(8, 10))
    readiness.acknowledge_fasting(procedure=booked, user=guardian.user, version=booked.version)
    with time_machine.travel(at(9, 12), tick=False):
        services.update_fasting_policy(policy=FastingPolicy(clear_fluids_hours=Decimal("3")), changed_by=None)
    booked.refresh_from_db()
    assert booked.version == 2
    assert not readiness.checklist(procedure=booked, user=guardian.user).fasting_acknowledged
    (notice,) = [m for m in send_due(at(9, 12)) if m.channel == "sms"]
    assert notice.reminder.kind == Kind.CHANGED
    assert "clear drinks after 4:30 AM." in notice.body
    (morning,) = [m for m in send_due(at(11, 3, 30)) if m.channel == "sms"]
    assert "clear drinks until 4:30 AM" in morning.body


def test_a_policy_change_that_moves_nothing_for_a_child_tells_nobody(booked):
    with time_machine.travel(at(9, 12), tick=False):
        services.update_fasting_policy(policy=FastingPolicy(breast_milk_hours=Decimal("3")), changed_by=None)
    booked.refresh_from_db()
    assert booked.version == 1
    assert not Reminder.objects.filter(kind=Kind.CHANGED).exists()


def test_the_admin_saves_a_policy_through_the_change_path(client, admin_user, booked):
    client.force_login(admin_user)
    data = {
        "name": "Stricter clear fluids",
        "solids_hours": "6",
        "fatty_food_hours": "8",
        "formula_hours": "6",
        "breast_milk_hours": "4",
        "clear_fluids_hours": "2",
        "anchor": "arrival",
        "is_active": "on",
    }
    response = client.post(reverse("admin:procedures_fastingpolicy_add"), data)
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.version == 2
    assert Reminder.objects.filter(kind=Kind.CHANGED, procedure_version=2).count() == 2


def test_changing_the_childs_feeding_on_the_nurse_page_tells_the_family(client, nurse, booked):
    patient = booked.patient
    client.force_login(nurse)
    data = {
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": "2025-12-01",
        "mrn": patient.mrn,
        "feeding": "breast_milk",
        "preferred_language": "en",
        "location": patient.location.pk,
    }
    with time_machine.travel(at(9, 12), tick=False):
        assert client.post(reverse("nurse:patient_edit", args=[patient.pk]), data).status_code == 302
    booked.refresh_from_db()
    assert booked.version == 2
    (notice,) = [m for m in send_due(at(9, 12)) if m.channel == "sms"]
    assert "No breast milk after 3:30 AM, clear drinks after 6:30 AM." in notice.body
    assert "formula" not in notice.body.lower()


def test_a_new_clinic_evening_time_moves_the_reminder_without_a_notice(booked, nurse):
    location = booked.location
    location.evening_reminder_time = dt.time(17, 0)
    with time_machine.travel(at(9, 12), tick=False):
        services.update_clinic(location=location, changed_by=nurse)
    booked.refresh_from_db()
    assert booked.version == 1
    evening = Reminder.objects.get(kind=Kind.FASTING_EVENING, channel="sms")
    assert evening.due_at == at(10, 17)
    assert not Reminder.objects.filter(kind=Kind.CHANGED).exists()


def test_a_guardian_added_later_gets_the_booking_and_the_others_nothing_new(booked, nurse):
    send_due(at(8, 10))
    with time_machine.travel(at(9, 9), tick=False):
        services.add_guardian(
            patient=booked.patient,
            full_name="Sam Second",
            email="sam@example.org",
            mobile_number="",
            relationship="Father",
            language="en",
            added_by=nurse,
        )
    new = send_due(at(9, 9))
    assert sorted((m.to, m.reminder.kind) for m in new) == [
        ("sam@example.org", Kind.CONFIRMATION),
        ("sam@example.org", Kind.INVITATION),
    ]
    assert Procedure.objects.get(pk=booked.pk).version == 1


# --- Quiet hours -------------------------------------------------------------------------


def test_news_about_tomorrow_goes_at_once_at_night(booked, nurse):
    with time_machine.travel(at(10, 22), tick=False):
        services.update_procedure(procedure=booked, changed_by=nurse, sedation="sedation", kind="aspiration")
        services.update_procedure(
            procedure=booked, changed_by=nurse, scheduled_start=at(18, 8, 30), arrival_at=at(18, 7, 30)
        )
    assert {r.due_at for r in Reminder.objects.filter(kind=Kind.CHANGED, procedure_version=3)} == {at(10, 22)}


def test_news_about_next_week_waits_for_the_morning(booked, nurse):
    with time_machine.travel(at(8, 22), tick=False):
        services.update_procedure(
            procedure=booked, changed_by=nurse, scheduled_start=at(18, 8, 30), arrival_at=at(18, 7, 30)
        )
    assert {r.due_at for r in Reminder.objects.filter(kind=Kind.CHANGED)} == {at(9, 7)}


# --- Nurse side: same rule as the service, a look before saving, no double submit ---------


def _late_form(client, procedure, version, **data):
    data["version"] = version
    return client.post(reverse("nurse:procedure_running_late", args=[procedure.pk]), data, follow=True)


def test_running_late_sent_twice_is_refused_not_added(client, nurse, booked):
    client.force_login(nurse)
    with time_machine.travel(at(11, 6), tick=False):
        first = _late_form(client, booked, booked.version, minutes=45)
        second = _late_form(client, booked, booked.version, minutes=45)
    booked.refresh_from_db()
    assert booked.running_late_minutes == 45
    assert "The family has been told the new times." in first.content.decode()
    assert "Nothing was changed this time." in second.content.decode()
    assert Reminder.objects.filter(kind=Kind.DELAYED).count() == 2  # one per channel, once


def test_a_delay_that_reopens_a_passed_cutoff_is_shown_before_saving(client, nurse, booked):
    client.force_login(nurse)
    with time_machine.travel(at(11, 6, 40), tick=False):
        page = _late_form(client, booked, booked.version, minutes=60).content.decode()
    assert "Check before you save" in page
    assert "Stop clear fluids today at 7:30 AM." in page
    assert "Nothing is saved yet" in page
    # What the text costs, counted as the carrier counts it.
    notice = html.unescape(re.search(r'<pre class="preview-message[^>]*>(.*?)</pre>', page, re.S).group(1))
    counted = sms.count(notice)
    assert counted.encoding == sms.GSM7 and 1 <= counted.segments <= 2
    assert sms.describe(notice) in html.unescape(page)
    assert f"Sent as {counted.segments} segment" in page
    booked.refresh_from_db()
    assert booked.version == 1
    with time_machine.travel(at(11, 6, 41), tick=False):
        _late_form(client, booked, booked.version, minutes=60, confirmed="1")
    booked.refresh_from_db()
    assert booked.running_late_minutes == 60


def test_moving_earlier_past_a_cutoff_lists_the_families_to_call(client, nurse, booked, guardian):
    client.force_login(nurse)
    local = booked.local_start
    data = {
        "kind": booked.kind,
        "sedation": booked.sedation,
        "location": booked.location.pk,
        "date": local.date().isoformat(),
        "arrival_time": "05:30",
        "start_time": "06:30",
        "version": booked.version,
    }
    with time_machine.travel(at(11, 5), tick=False):
        page = client.post(reverse("nurse:procedure_edit", args=[booked.pk]), data).content.decode()
    assert "Call these families now" in page
    assert "Alice Parent" in page and 'href="tel:+13125550142"' in page
    assert "If Mia has had anything to eat or drink since 4:30 AM" in page
    booked.refresh_from_db()
    assert booked.version == 1


def test_done_before_the_start_is_refused_by_the_form_and_the_service(client, nurse, patient):
    with time_machine.travel(at(8, 10), tick=False):
        procedure = book(patient, nurse, arrival=at(11, 10, 20))  # starts 11:20
    client.force_login(nurse)
    with time_machine.travel(at(11, 11, 30), tick=False):
        response = client.post(reverse("nurse:procedure_done", args=[procedure.pk]), {"ended_time": "10:36"})
        assert "before the procedure&#x27;s start (11:20 AM)" in response.content.decode()
        with pytest.raises(services.DayOfError):
            services.mark_done(procedure=procedure, ended_at=at(11, 10, 36), done_by=nurse)
    procedure.refresh_from_db()
    assert procedure.status == "scheduled"


def test_a_stale_version_is_refused_by_the_service(booked, nurse):
    with time_machine.travel(at(11, 6), tick=False):
        services.mark_running_late(procedure=booked, changed_by=nurse, minutes=15, based_on=1)
        with pytest.raises(services.StaleVersion):
            services.mark_running_late(procedure=booked, changed_by=nurse, minutes=15, based_on=1)
    assert Procedure.objects.get(pk=booked.pk).running_late_minutes == 15


def test_a_removed_guardian_gets_nothing_more(booked, guardian):
    other = GuardianFactory(user__email="gone@example.org")
    services.update_guardians(
        patient=booked.patient, changed_by=None, apply=lambda: booked.patient.guardians.add(other)
    )
    assert Reminder.objects.filter(guardian=other, status=Status.SCHEDULED).exists()
    services.update_guardians(
        patient=booked.patient, changed_by=None, apply=lambda: booked.patient.guardians.remove(other)
    )
    assert not Reminder.objects.filter(guardian=other, status=Status.SCHEDULED).exists()


def test_on_the_night_the_clocks_go_back_texts_and_emails_say_which_one_thirty(patient, nurse, texting_guardian):
    # Sunday 1 November 2026: 1:30 AM happens twice. Arrival 7:30 AM CST, so solids stop at the second 1:30.
    with time_machine.travel(dt.datetime(2026, 10, 26, 10, tzinfo=CHICAGO), tick=False):
        book(patient, nurse, arrival=dt.datetime(2026, 11, 1, 7, 30, tzinfo=CHICAGO))
    send_due(dt.datetime(2026, 10, 26, 10, tzinfo=CHICAGO))
    evening = send_due(dt.datetime(2026, 10, 31, 18, tzinfo=CHICAGO))
    assert {m.channel for m in evening} == {"sms", "email"}
    for message in evening:
        if message.channel == "sms":
            # The day is the appointment's (named once): only the zone marks the second 1:30.
            assert "No fatty food after 12:30 AM, solid food or milk after 1:30 AM CST," in message.body
            continue
        assert "Stop solid food tonight at 1:30 AM CST (early Sunday)." in message.body
        assert "Stop fatty or fried food tonight at 12:30 AM (early Sunday)." in message.body  # happens once: no zone
