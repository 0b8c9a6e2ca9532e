"""Who may open what. Walks every URL pattern of the project, so a new page is covered."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from procedures.feed.models import InboundMessage, SendingSystem
from procedures.models import Guardian, Patient, PreparedQuestion, Procedure, SymptomReport
from reminders.models import InboundText, Reminder

# Pages anyone may open.
PUBLIC = {"login", "logout", "accept_invitation", "healthz", "set_language", "home"}
# The general pages about the test: no patient data on them, so a parent needs no account
# to read them (tests/procedures/test_learn_public.py). A child's own times stay behind the log-in.
PUBLIC_READING = {"learn:index", "learn:page", "learn:step", "learn:for_children"}
# Forgot your password: open to anyone, never showing patient data (tests/portal/test_password_reset.py).
PUBLIC |= {
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "password_reset_text",
    "password_reset_code",
    "password_reset_text_new",
}
# Provider callbacks: no session, a signature instead (tests/reminders/test_webhooks.py); Prometheus's
# scrape, a bearer token instead (tests/reminders/test_channel_health.py).
SIGNED = {"reminders:twilio_status", "reminders:twilio_inbound", "metrics"}
# The record system's FHIR client: no session, a bearer token instead (tests/feed/test_fhir_endpoint.py).
SIGNED |= {"fhir:bundle", "fhir:appointment", "fhir:appointment_instance", "fhir:appointment_version"}
# The SMART token endpoint: a JWT signed with the client's key instead (tests/feed/test_smart.py); what the
# FHIR server serves and how to get a token, and the OperationOutcome for any other /fhir/ path: no data.
SIGNED |= {"fhir:token"}
PUBLIC |= {"fhir:metadata", "fhir:smart_configuration", "fhir:not_found"}
# A text's short links: a redirect to the family's page, which asks for the login and checks the child.
PUBLIC |= {"short_procedure", "short_check_in"}


def _walk(patterns: list, namespace: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _walk(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((namespace + entry.name, entry))
    return found


PROJECT_URLS = _walk(get_resolver().url_patterns)
PATIENT_DATA_URLS = [(name, p) for name, p in PROJECT_URLS if name not in PUBLIC | PUBLIC_READING | SIGNED]
OBJECT_URLS = [(name, p) for name, p in PATIENT_DATA_URLS if "pk" in p.pattern.converters]
POST_ONLY = {
    "nurse:guardian_resend_invitation",
    "family:acknowledge_fasting",
    "family:confirm_contact",
    "family:intake",
    "family:question_delete",
    "nurse:reminder_resend",
    "nurse:check_in_acknowledge",
    "nurse:guardian_sms_consent",
    "nurse:feed_message_retry",
    "nurse:feed_message_dismiss",
    "nurse:inbound_text_answered",
    "family:procedure_reply",
}

# Which object a URL's pk points at, by the name of the page.
OBJECT_OF = {
    "nurse:procedure_detail": Procedure,
    "nurse:procedure_edit": Procedure,
    "nurse:procedure_cancel": Procedure,
    "family:procedure": Procedure,
    "nurse:patient_detail": Patient,
    "nurse:patient_edit": Patient,
    "nurse:guardian_add": Patient,
    "nurse:procedure_create": Patient,
    "family:child": Patient,
    "nurse:guardian_detail": Guardian,
    "nurse:guardian_resend_invitation": Guardian,
    "nurse:guardian_sms_consent": Guardian,
    "family:fasting_card": Procedure,
    "family:acknowledge_fasting": Procedure,
    "family:confirm_contact": Procedure,
    "family:questions": Procedure,
    "family:question_delete": Procedure,
    "family:questions_print": Procedure,
    "family:calendar": Procedure,
    "nurse:reminder_resend": Reminder,
    "nurse:procedure_running_late": Procedure,
    "nurse:procedure_done": Procedure,
    "nurse:procedure_outcome": Procedure,
    "nurse:procedure_intake": Procedure,
    "family:intake": Procedure,
    "nurse:check_in_acknowledge": SymptomReport,
    "family:check_in": Procedure,
    "nurse:patient_access": Patient,
    "nurse:feed_message_detail": InboundMessage,
    "nurse:feed_message_retry": InboundMessage,
    "nurse:feed_message_dismiss": InboundMessage,
    "nurse:inbound_text_answered": InboundText,
    "family:procedure_reply": Procedure,
}


def _url(name: str, pattern: URLPattern, objects: dict) -> str:
    kwargs: dict[str, object] = {}
    for key in pattern.pattern.converters:
        if key == "pk":
            kwargs[key] = objects[OBJECT_OF[name]]
        elif key == "question_pk":
            kwargs[key] = objects[PreparedQuestion]
    return reverse(name, kwargs=kwargs)


def _objects(procedure: Procedure) -> dict:
    guardian = procedure.patient.guardians.get()
    question = PreparedQuestion.objects.create(procedure=procedure, user=guardian.user, text="Why?")
    reminder = Reminder.objects.create(
        procedure=procedure,
        guardian=guardian,
        channel="email",
        kind="confirmation",
        status="failed",
        due_at=procedure.arrival_at,
        valid_until=procedure.scheduled_start,
        procedure_version=procedure.version,
    )
    report = SymptomReport.objects.create(procedure=procedure, user=guardian.user, needs_attention=True)
    system = SendingSystem.objects.create(name=f"System of {procedure.location}")
    system.clinics.add(procedure.location)
    message = InboundMessage.objects.create(
        system=system, protocol="hl7v2", raw=b"MSH|", status="failed", procedure=procedure
    )
    text = InboundText.objects.create(
        from_number=guardian.mobile_number, body="Yes", guardian=guardian, procedure=procedure,
        procedure_version=procedure.version, location=procedure.location,
    )  # fmt: skip
    return {
        InboundText: text.pk,
        InboundMessage: message.pk,
        SymptomReport: report.pk,
        Procedure: procedure.pk,
        Patient: procedure.patient.pk,
        Guardian: guardian.pk,
        PreparedQuestion: question.pk,
        Reminder: reminder.pk,
    }


def test_every_patient_data_url_is_classified():
    with_pk = {name for name, p in PATIENT_DATA_URLS if "pk" in p.pattern.converters}
    assert with_pk == set(OBJECT_OF), "add new pages to OBJECT_OF so their access is tested"
    known = {"pk", "question_pk"}
    for name, pattern in PATIENT_DATA_URLS:
        assert set(pattern.pattern.converters) <= known, f"{name}: teach _url() its new URL argument"


@pytest.mark.parametrize(("name", "pattern"), PATIENT_DATA_URLS, ids=[n for n, _ in PATIENT_DATA_URLS])
def test_anonymous_user_is_sent_to_login(client, procedure, name, pattern):
    url = _url(name, pattern, _objects(procedure))
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize(("name", "pattern"), OBJECT_URLS, ids=[n for n, _ in OBJECT_URLS])
def test_guardian_gets_404_for_another_familys_objects(client, guardian, procedure, other_procedure, name, pattern):
    client.force_login(guardian.user)
    url = _url(name, pattern, _objects(other_procedure))
    assert client.post(url).status_code == 404, url
    if name not in POST_ONLY:
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize(("name", "pattern"), OBJECT_URLS, ids=[n for n, _ in OBJECT_URLS])
def test_missing_and_not_yours_look_the_same(client, guardian, procedure, name, pattern):
    client.force_login(guardian.user)
    kwargs = dict.fromkeys(pattern.pattern.converters, 999999)
    assert client.post(reverse(name, kwargs=kwargs)).status_code == 404


@pytest.mark.parametrize(("name", "pattern"), OBJECT_URLS, ids=[n for n, _ in OBJECT_URLS])
def test_nurse_of_another_location_gets_404(client, other_nurse, procedure, name, pattern):
    client.force_login(other_nurse)
    url = _url(name, pattern, _objects(procedure))
    assert client.post(url).status_code == 404, url
    if name not in POST_ONLY:
        assert client.get(url).status_code == 404, url


def test_guardian_opens_own_childs_pages(client, guardian, procedure):
    client.force_login(guardian.user)
    assert client.get(reverse("family:procedure", args=[procedure.pk])).status_code == 200
    assert client.get(reverse("family:child", args=[procedure.patient.pk])).status_code == 200
    dashboard = client.get(reverse("family:dashboard"))
    assert procedure.patient.first_name in dashboard.content.decode()


def test_guardian_cannot_open_staff_pages_even_for_own_child(client, guardian, procedure):
    client.force_login(guardian.user)
    assert client.get(reverse("nurse:procedure_list")).status_code == 404
    assert client.get(reverse("nurse:procedure_detail", args=[procedure.pk])).status_code == 404


def test_dashboard_lists_only_the_guardians_own_children(client, guardian, procedure, other_procedure):
    client.force_login(guardian.user)
    page = client.get(reverse("family:dashboard")).content.decode()
    assert procedure.patient.first_name in page
    assert other_procedure.patient.first_name not in page


def test_nurse_list_shows_only_their_locations(client, nurse, procedure, other_nurse):
    elsewhere = procedure.__class__.objects.create(
        patient=procedure.patient,
        location=other_nurse.locations.get(),
        scheduled_start=procedure.scheduled_start,
        arrival_at=procedure.arrival_at,
    )
    client.force_login(other_nurse)
    page = client.get(reverse("nurse:procedure_list"))
    assert [p.pk for p in page.context["page"]] == [elsewhere.pk]


def test_admin_sees_every_location(client, admin_user, procedure, other_procedure):
    client.force_login(admin_user)
    page = client.get(reverse("nurse:procedure_list"))
    assert {p.pk for p in page.context["page"]} == {procedure.pk, other_procedure.pk}


def test_inactive_user_sees_nothing(guardian, procedure):
    guardian.user.is_active = False
    assert not Procedure.objects.visible_to(guardian.user).exists()
