"""The audit log: every view and change of patient data, failed logins and denied access; append-only."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.models import AuditAction, AuditEvent
from tests.conftest import log_in
from tests.factories import PASSWORD


def test_viewing_a_procedure_records_who_what_when_and_where(client, guardian, procedure):
    client.force_login(guardian.user)
    client.get(reverse("family:procedure", args=[procedure.pk]), REMOTE_ADDR="192.0.2.10")
    event = AuditEvent.objects.get(route="family:procedure")
    assert (event.action, event.user_id, event.role) == (AuditAction.VIEW, guardian.user.pk, "guardian")
    assert (event.patient_id, event.object_type, event.object_id) == (procedure.patient_id, "procedure", procedure.pk)
    assert event.ip_address == "192.0.2.10" and event.status == 200


def test_a_change_is_recorded_as_a_change(client, nurse, procedure):
    client.force_login(nurse)
    client.post(reverse("nurse:procedure_cancel", args=[procedure.pk]), {"reason": "Family asked"})
    event = AuditEvent.objects.get(route="nurse:procedure_cancel")
    assert event.action == AuditAction.CHANGE and event.patient_id == procedure.patient_id


def test_denied_access_is_recorded_without_revealing_the_patient(client, guardian, other_procedure):
    client.force_login(guardian.user)
    assert client.get(reverse("family:procedure", args=[other_procedure.pk])).status_code == 404
    event = AuditEvent.objects.get(action=AuditAction.DENIED)
    assert event.user_id == guardian.user.pk and event.patient_id is None and event.object_id == other_procedure.pk


def test_failed_and_successful_logins_and_logouts_are_recorded(client, guardian):
    client.post(reverse("login"), {"username": guardian.user.email, "password": "not-the-password"})
    log_in(client, guardian.user.email, PASSWORD)
    client.post(reverse("logout"))
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", "user_id"))
    assert actions == [
        (AuditAction.LOGIN_FAILED, guardian.user.pk),
        (AuditAction.LOGIN, guardian.user.pk),
        (AuditAction.LOGOUT, guardian.user.pk),
    ]


def test_a_failed_login_for_an_unknown_email_stores_no_email(client, db):
    client.post(reverse("login"), {"username": "someone@example.org", "password": "x"})
    event = AuditEvent.objects.get()
    assert event.user_id is None
    assert "someone" not in str([getattr(event, f.name) for f in AuditEvent._meta.fields])


def test_the_log_cannot_be_changed_or_deleted_through_django(client, guardian, procedure):
    client.force_login(guardian.user)
    client.get(reverse("family:procedure", args=[procedure.pk]))
    event = AuditEvent.objects.get(route="family:procedure")
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().update(action="view")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


def test_the_database_refuses_to_change_audit_rows(client, guardian, procedure, postgres):
    client.force_login(guardian.user)
    client.get(reverse("family:procedure", args=[procedure.pk]))
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE portal_auditevent SET action = 'view'")
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM portal_auditevent")


def test_a_nurse_sees_a_childs_access_history(client, nurse, guardian, procedure):
    client.force_login(guardian.user)
    client.get(reverse("family:procedure", args=[procedure.pk]))
    client.force_login(nurse)
    page = client.get(reverse("nurse:patient_access", args=[procedure.patient_id]))
    html = page.content.decode()
    assert guardian.user.full_name in html and "Viewed" in html and "family:procedure" in html


def test_behind_the_proxy_the_address_it_added_is_recorded(client, guardian, procedure, settings):
    settings.BEHIND_PROXY = True
    client.force_login(guardian.user)
    client.get(
        reverse("family:procedure", args=[procedure.pk]),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.4",
    )
    assert AuditEvent.objects.get(route="family:procedure").ip_address == "198.51.100.4"


def test_a_view_that_names_the_child_spares_the_log_its_lookup(client, guardian, procedure, nurse):
    client.force_login(guardian.user)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("family:procedure", args=[procedure.pk]))
    assert not [q for q in ctx.captured_queries if q["sql"].startswith('SELECT "procedures_procedure"."patient_id"')]
    client.force_login(nurse)
    client.get(reverse("nurse:procedure_detail", args=[procedure.pk]))
    events = AuditEvent.objects.filter(object_id=procedure.pk).values_list("route", "patient_id")
    assert sorted(events) == [
        ("family:procedure", procedure.patient_id),
        ("nurse:procedure_detail", procedure.patient_id),
    ]


def test_append_writes_the_row_create_would(db, held_clock):
    values = {
        "user_id": 7, "role": "guardian", "action": AuditAction.VIEW, "route": "family:procedure",
        "method": "GET", "status": 200, "patient_id": 3, "object_type": "procedure", "object_id": 5,
        "ip_address": "2001:db8::1",
    }  # fmt: skip
    AuditEvent.objects.create(**values)
    AuditEvent.append(**values)
    made, appended = (
        {f.name: getattr(event, f.name) for f in AuditEvent._meta.fields if f.name != "id"}
        for event in AuditEvent.objects.order_by("pk")
    )
    assert appended == made
