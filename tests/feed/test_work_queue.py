"""The nurses' list of bookings that could not be applied: who sees what, try again, the count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.models import AuditAction, AuditEvent
from procedures.feed.intake import receive_hl7
from procedures.feed.models import InboundMessage, LocationCode, MessageStatus, SendingSystem, ServiceCode
from procedures.models import Procedure, ProcedureKind, Sedation

from . import corpus
from .test_hl7_listener import siu


@pytest.fixture
def lakeside(location) -> SendingSystem:
    system = SendingSystem.objects.create(name="Lakeside Epic", hl7_application="EPIC", hl7_facility="LAKESIDE")
    system.clinics.add(location)
    ServiceCode.objects.create(system=system, code="BMAB-GA", kind=ProcedureKind.BOTH, sedation=Sedation.GENERAL)
    return system


@pytest.fixture
def northside(other_location) -> SendingSystem:
    system = SendingSystem.objects.create(name="Northside Cerner", hl7_application="CERNER")
    system.clinics.add(other_location)
    return system


def _failed(control: str, *, filler: str = "A1", application: str = "EPIC|LAKESIDE") -> InboundMessage:
    text = siu(corpus.EPIC_S12, control=control, filler=filler).replace("EPIC|LAKESIDE", application, 1)
    receive_hl7(text.encode(), peer="10.0.0.5")
    message = InboundMessage.objects.get(control_id=control)
    assert message.status == MessageStatus.FAILED, message.reason
    return message


def test_a_nurse_sees_only_messages_of_the_systems_serving_her_clinics(client, nurse, lakeside, northside):
    mine = _failed("MINE")
    theirs = _failed("THEIRS", application="CERNER|NORTH")
    client.force_login(nurse)
    page = client.get(reverse("nurse:feed_message_list"))
    assert page.status_code == 200
    assert b"MINE" in page.content and b"THEIRS" not in page.content
    assert "Location code “ONC-PROC”" in page.content.decode()
    assert client.get(reverse("nurse:feed_message_detail", args=[theirs.pk])).status_code == 404
    detail = client.get(reverse("nurse:feed_message_detail", args=[mine.pk]))
    assert b"PID|1||E12345" in detail.content
    routes = list(
        AuditEvent.objects.filter(user_id=nurse.pk, route__startswith="nurse:feed").values_list(
            "route", "action", "object_id"
        )
    )
    assert routes == [
        ("nurse:feed_message_detail", AuditAction.VIEW, mine.pk),
        ("nurse:feed_message_detail", AuditAction.DENIED, theirs.pk),
        ("nurse:feed_message_list", AuditAction.VIEW, None),
    ]


def test_families_cannot_open_the_queue(client, guardian, lakeside):
    message = _failed("X")
    client.force_login(guardian.user)
    assert client.get(reverse("nurse:feed_message_list")).status_code == 404
    assert client.get(reverse("nurse:feed_message_detail", args=[message.pk])).status_code == 404
    assert client.post(reverse("nurse:feed_message_retry", args=[message.pk])).status_code == 404


def test_admins_see_every_system(client, admin_user, lakeside, northside):
    _failed("MINE")
    _failed("THEIRS", application="CERNER|NORTH")
    client.force_login(admin_user)
    page = client.get(reverse("nurse:feed_message_list"))
    assert b"MINE" in page.content and b"THEIRS" in page.content


def test_try_again_after_the_mapping_is_fixed(client, nurse, location, lakeside):
    message = _failed("C1")
    client.force_login(nurse)
    dashboard = client.get(reverse("nurse:dashboard"))
    assert "1 booking from the hospital's record system could not be applied" in dashboard.content.decode()

    still = client.post(reverse("nurse:feed_message_retry", args=[message.pk]), follow=True)
    assert "Still not applied" in still.content.decode()
    LocationCode.objects.create(system=lakeside, code="ONC-PROC", location=location)
    done = client.post(reverse("nurse:feed_message_retry", args=[message.pk]), follow=True)
    assert "Applied" in done.content.decode()
    message.refresh_from_db()
    assert message.status == MessageStatus.APPLIED and message.attempts == 3
    procedure = Procedure.objects.get()
    assert procedure.created_by == lakeside.actor
    assert AuditEvent.objects.filter(
        route="nurse:feed_message_retry", user_id=nurse.pk, patient_id=procedure.patient_id
    )
    assert "could not be applied" not in client.get(reverse("nurse:dashboard")).content.decode()


def test_the_queue_costs_the_same_queries_for_3_or_30_messages(client, nurse, lakeside):
    client.force_login(nurse)
    for number in range(3):
        _failed(f"S{number}", filler=f"S{number}")
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("nurse:feed_message_list"))
    for number in range(27):
        _failed(f"L{number}", filler=f"L{number}")
    with CaptureQueriesContext(connection) as large:
        assert client.get(reverse("nurse:feed_message_list")).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_count_does_not_include_applied_or_replaced_messages(lakeside, location, nurse):
    from procedures.feed.templatetags.feed_tags import messages_to_fix

    _failed("OLD", filler="Z1")
    assert messages_to_fix(nurse) == 1
    LocationCode.objects.create(system=lakeside, code="ONC-PROC", location=location)
    newer = siu(corpus.EPIC_S14, control="NEW", filler="Z1", sent=timezone.now())
    receive_hl7(newer.encode())
    assert messages_to_fix(nurse) == 0
    assert "Replaced by a later message" in InboundMessage.objects.get(control_id="OLD").reason


def test_rows_name_the_child_refused_messages_are_listed_and_a_nurse_dismisses_with_a_reason(
    client, nurse, lakeside, other_nurse
):
    failed = _failed("WHO")
    refused = siu(corpus.EPIC_S12, control="TEST-1").replace("|P|2.5.1", "|T|2.5.1", 1)
    receive_hl7(refused.encode(), peer="10.0.0.5")
    client.force_login(nurse)
    page = client.get(reverse("nurse:feed_message_list")).content.decode()
    assert "Mateo Rivera" in page and "E12345" in page
    assert "TEST-1" in page and "Refused" in page

    url = reverse("nurse:feed_message_dismiss", args=[failed.pk])
    client.post(url, {"reason": ""})
    assert InboundMessage.objects.get(pk=failed.pk).status == MessageStatus.FAILED  # a reason is needed
    client.force_login(other_nurse)
    assert client.post(url, {"reason": "not mine"}).status_code == 404
    client.force_login(nurse)
    assert client.post(url, {"reason": "Booked by hand"}).status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.dismissed_by, failed.dismiss_reason) == (
        MessageStatus.DISMISSED,
        nurse,
        "Booked by hand",
    )
    assert AuditEvent.objects.filter(user_id=nurse.pk, route="nurse:feed_message_dismiss", object_id=failed.pk).exists()
    page = client.get(reverse("nurse:feed_message_list")).content.decode()
    assert "WHO" not in page and "TEST-1" in page


def test_the_waiting_metric_counts_failed_and_refused_messages(lakeside, settings, client):
    from reminders.metrics import DeliveryCollector

    _failed("M1", filler="M1")
    receive_hl7(siu(corpus.EPIC_S12, control="M2").replace("|P|2.5.1", "|T|2.5.1", 1).encode())
    families = {family.name: family for family in DeliveryCollector().collect()}
    samples = {sample.labels["status"]: sample.value for sample in families["marrow_feed_messages_waiting"].samples}
    assert samples["failed"] == 1 and samples["rejected"] == 1
