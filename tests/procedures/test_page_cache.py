"""A kept family page is always the page that would be made now (procedures/page_cache.py).

PostgreSQL and a real Redis: the triggers that move the page counters and the
shared cache the pages are kept in are the parts under test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import threading
import uuid
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import constants as message_levels
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from portal import metrics
from portal.models import AuditEvent, Role
from procedures import aftercare, page_cache, readiness, services
from procedures.feed.models import InboundMessage, SendingSystem
from procedures.models import (
    EducationPage,
    FastingPolicy,
    Guardian,
    Patient,
    PreparedQuestion,
    Procedure,
    SymptomReport,
)
from reminders.models import Reminder

from ..conftest import state_machine_examples
from ..factories import GuardianFactory, LocationFactory, PatientFactory, UserFactory

CHICAGO = ZoneInfo("America/Chicago")
# The evening before the appointments: the night's cut-offs pass while the clock moves.
START = dt.datetime(2026, 12, 7, 18, 0, tzinfo=CHICAGO)
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
# Sequences run: all under the "full" Hypothesis profile (scripts/full_state_machines.sh), a third
# in the suite ("ci"); PAGE_CACHE_EXAMPLES=N runs N.
EXAMPLES = {"full": 15, "ci": 5}
ran = {"examples": 0, "steps": 0, "pages_compared": 0, "nurse_pages_compared": 0, "mornings": 0, "running_late": 0}


@pytest.fixture
def kept_pages(request, postgres, redis_url):
    if "transactional_db" not in request.fixturenames:
        request.getfixturevalue("db")
        # The clinics' counters move when a writer commits (procedures 0013), and a test's transaction
        # never commits: here they move at the end of each statement. transactional_db tests commit.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    # Ids and counters start again with each test database; pages kept by an earlier run are not this one's.
    prefix = uuid.uuid4().hex
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": prefix,
            }
        },
        PAGE_CACHE=True,
    ):
        yield caches["default"]


def _without_token(content: bytes) -> bytes:
    return TOKEN.sub(b"TOKEN", content)


def _fresh(client: Client, path: str):
    with override_settings(PAGE_CACHE=False):
        return client.get(path)


class KeptPages(RuleBasedStateMachine):
    """Two families, one of them with two guardians, a nurse and an administrator; anything on their pages
    changes in any order.

    The clock starts the evening before the appointments and moves on, to 5 a.m. on the day too.
    """

    def __init__(self) -> None:
        super().__init__()
        ran["examples"] += 1
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._clock = time_machine.travel(START, tick=False)
        self.traveller = self._clock.start()
        self._served = mock.patch.object(page_cache, "_served", wraps=page_cache._served)
        self.served = self._served.start()

    def teardown(self) -> None:
        self._served.stop()
        self._clock.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @initialize()
    def families(self) -> None:
        self.location = LocationFactory()
        self.nurse = UserFactory(role=Role.NURSE)
        self.location.nurses.add(self.nurse)
        self.policy = FastingPolicy.objects.create()
        self.mother, self.father, self.other = (GuardianFactory(user__language="en") for _ in range(3))
        self.children = [
            PatientFactory(location=self.location, guardians=[self.mother, self.father]),
            PatientFactory(location=self.location, guardians=[self.mother]),
            PatientFactory(location=self.location, guardians=[self.other]),
        ]
        tomorrow = START.date() + dt.timedelta(days=1)
        self.procedures = []
        for hour, child in zip((8, 10, 9), self.children, strict=True):
            start = dt.datetime.combine(tomorrow, dt.time(hour, 0), tzinfo=CHICAGO)
            self.procedures.append(
                services.schedule_procedure(
                    patient=child, kind="both", location=self.location, scheduled_start=start,
                    arrival_at=start - dt.timedelta(hours=1), sedation="general", scheduled_by=self.nurse,
                )
            )  # fmt: skip
        self.pages = list(EducationPage.objects.order_by("pk")[:3])
        self.clients = {}
        for guardian in (self.mother, self.father, self.other):
            client = Client()
            client.force_login(guardian.user)
            self.clients[guardian.pk] = client
        self.second_clinic = LocationFactory()
        self.admin = UserFactory(role=Role.ADMIN)
        self.care_team = {}
        for user in (self.nurse, self.admin):
            client = Client()
            client.force_login(user)
            self.care_team[user.pk] = client

    def _procedure(self, index: int) -> Procedure:
        return Procedure.objects.get(pk=self.procedures[index].pk)

    # --- What the nurse and the clinic change ----------------------------------------------

    @rule(index=st.integers(0, 2), minutes=st.sampled_from([-90, -15, 15, 45, 24 * 60]))
    def reschedule(self, index: int, minutes: int) -> None:
        procedure = self._procedure(index)
        if not procedure.is_active:
            return
        start = procedure.scheduled_start + dt.timedelta(minutes=minutes)
        try:
            services.update_procedure(
                procedure=procedure, changed_by=self.nurse, scheduled_start=start,
                arrival_at=start - dt.timedelta(hours=1),
            )  # fmt: skip
        except Exception:
            return

    @rule(index=st.integers(0, 2), minutes=st.sampled_from([15, 45]))
    def running_late(self, index: int, minutes: int) -> None:
        procedure = self._procedure(index)
        try:
            services.mark_running_late(procedure=procedure, changed_by=self.nurse, minutes=minutes)
        except Exception:  # not today, or no longer active: refused, nothing changes
            return
        ran["running_late"] += 1

    @rule(index=st.integers(0, 2))
    def cancel(self, index: int) -> None:
        services.cancel_procedure(procedure=self._procedure(index), reason="Unwell", cancelled_by=self.nurse)

    @rule(index=st.integers(0, 2), name=st.sampled_from(["Ana", "Beto", "Cleo"]))
    def rename_child(self, index: int, name: str) -> None:
        child = Patient.objects.get(pk=self.children[index].pk)
        child.first_name = name
        services.update_child(patient=child, changed_by=self.nurse)

    @rule(linked=st.booleans())
    def father_on_second_child(self, linked: bool) -> None:
        child = Patient.objects.get(pk=self.children[1].pk)
        change = child.guardians.add if linked else child.guardians.remove
        services.update_guardians(patient=child, changed_by=self.nurse, apply=lambda: change(self.father))

    @rule(phone=st.sampled_from(["+13125550100", "+13125550199"]))
    def clinic_phone(self, phone: str) -> None:
        self.location.refresh_from_db()
        self.location.phone = phone
        services.update_clinic(location=self.location, changed_by=self.nurse)

    @rule(hours=st.sampled_from(["6", "7", "8.5"]))
    def fasting_policy(self, hours: str) -> None:
        self.policy.refresh_from_db()
        self.policy.solids_hours = Decimal(hours)
        services.update_fasting_policy(policy=self.policy, changed_by=self.nurse)

    @rule(title=st.sampled_from(["What happens", "On the day"]))
    def education_title(self, title: str) -> None:
        if self.pages:
            EducationPage.objects.filter(pk=self.pages[0].pk).update(title_en=title)

    @rule(index=st.integers(0, 2))
    def to_the_other_clinic(self, index: int) -> None:
        """A hand-typed UPDATE: the triggers catch every writer."""
        Procedure.objects.filter(pk=self.procedures[index].pk).update(location=self.second_clinic)

    @rule(joined=st.booleans())
    def nurse_in_the_other_clinic(self, joined: bool) -> None:
        change = self.second_clinic.nurses.add if joined else self.second_clinic.nurses.remove
        change(self.nurse)

    @rule(index=st.integers(0, 2), status=st.sampled_from(["failed", "expired", "unknown", "sent", "delivered"]))
    def reminder_outcome(self, index: int, status: str) -> None:
        procedure = self._procedure(index)
        reminder = procedure.reminders.order_by("pk").first()
        if reminder is None:
            reminder = Reminder.objects.create(
                procedure=procedure, guardian=self._first_guardian(index), channel="sms", kind="confirmation",
                due_at=timezone.now(), valid_until=procedure.scheduled_start,
            )  # fmt: skip
        Reminder.objects.filter(pk=reminder.pk).update(
            status=status, last_error="Carrier refused" if status == "failed" else "", updated_at=timezone.now()
        )

    @rule(index=st.integers(0, 2), bleeding=st.booleans())
    def warning_sign(self, index: int, bleeding: bool) -> None:
        SymptomReport.objects.create(
            procedure=self._procedure(index), user=self._first_guardian(index).user, needs_attention=True,
            bleeding=bleeding, redness=not bleeding, flags=["bleeding" if bleeding else "redness"],
            created_at=timezone.now(),
        )  # fmt: skip

    @rule(by_admin=st.booleans())
    def warnings_acknowledged(self, by_admin: bool) -> None:
        for report in SymptomReport.objects.filter(acknowledged_at__isnull=True):
            aftercare.acknowledge(report=report, by=self.admin if by_admin else self.nurse)

    @rule(
        system=st.sampled_from(["this clinic", "other clinic", "unknown"]),
        status=st.sampled_from(["failed", "applied"]),
    )
    def record_system_message(self, system: str, status: str) -> None:
        """A booking from the hospital's system that could not be applied is counted on the board."""
        sender = None if system == "unknown" else SendingSystem.objects.get_or_create(name=system)[0]
        if sender is not None:
            sender.clinics.set([self.location if system == "this clinic" else self.second_clinic])
        message = InboundMessage.objects.filter(system=sender).first()
        if message is None:
            message = InboundMessage.objects.create(system=sender, protocol="hl7v2", raw=b"MSH|")
        InboundMessage.objects.filter(pk=message.pk).update(status=status)

    @rule(name=st.sampled_from(["Nora Nurse", "Nora N."]))
    def nurse_name(self, name: str) -> None:
        self.nurse.refresh_from_db()
        self.nurse.full_name = name
        self.nurse.save()

    @rule(term=st.sampled_from(["", "Ana", "ana beto", "nobody"]), by_admin=st.booleans())
    def search(self, term: str, by_admin: bool) -> None:
        client = self.care_team[(self.admin if by_admin else self.nurse).pk]
        client.post(reverse("nurse:procedure_list"), {"q": term})

    # --- What the families do --------------------------------------------------------------

    @rule(index=st.integers(0, 2), by_father=st.booleans())
    def acknowledge_fasting(self, index: int, by_father: bool) -> None:
        procedure = self._procedure(index)
        user = (self.father if by_father else self._first_guardian(index)).user
        readiness.acknowledge_fasting(procedure=procedure, user=user, version=procedure.version)

    @rule(index=st.integers(0, 2))
    def confirm_contact(self, index: int) -> None:
        readiness.confirm_contact(
            procedure=self._procedure(index), user=self._first_guardian(index).user, number="+13125550142"
        )

    @rule(page=st.integers(0, 2), by_father=st.booleans())
    def read_a_page(self, page: int, by_father: bool) -> None:
        if page < len(self.pages):
            user = (self.father if by_father else self.mother).user
            readiness.record_page_view(user=user, page=self.pages[page])

    @rule(who=st.sampled_from(["mother", "father", "other", "nurse"]))
    def signs_in(self, who: str) -> None:
        """What a login writes to the account (its last_login), as Django's user_logged_in receiver does."""
        from django.contrib.auth.models import update_last_login

        user = self.nurse if who == "nurse" else getattr(self, who).user
        update_last_login(None, user)

    @rule(opted_out=st.booleans(), sms=st.booleans())
    def other_family_texts(self, opted_out: bool, sms: bool) -> None:
        Guardian.objects.filter(pk=self.other.pk).update(
            sms_opted_out_at=timezone.now() if opted_out else None, sms_enabled=sms, email_enabled=sms
        )

    @rule(index=st.integers(0, 2))
    def ask(self, index: int) -> None:
        PreparedQuestion.objects.create(
            procedure=self._procedure(index), user=self._first_guardian(index).user, text="Will it hurt?"
        )

    @rule(language=st.sampled_from(["en", "es"]), name=st.sampled_from(["Maria Lopez", "Maria L."]))
    def mother_settings(self, language: str, name: str) -> None:
        user = self.mother.user
        user.refresh_from_db()
        user.language, user.full_name = language, name
        user.save()

    @rule()
    def five_in_the_morning(self) -> None:
        """The morning of the appointments, when a parent checks what the child may still drink."""
        morning = dt.datetime.combine(START.date() + dt.timedelta(days=1), dt.time(5, 0), tzinfo=CHICAGO)
        if timezone.now() < morning:
            self.traveller.move_to(morning)
            ran["mornings"] += 1

    @rule(seconds=st.sampled_from([1, 20, 59, 60, 61, 15 * 60, 2 * 3600 + 7]))
    def time_passes(self, seconds: int) -> None:
        self.traveller.shift(dt.timedelta(seconds=seconds))

    def _first_guardian(self, index: int):
        return self.other if index == 2 else self.mother

    # --- What must hold ----------------------------------------------------------------

    @invariant()
    def every_page_is_the_page_made_now(self) -> None:
        if not hasattr(self, "clients"):
            return
        ran["steps"] += 1
        paths = [reverse("family:dashboard")] + [reverse("family:procedure", args=[p.pk]) for p in self.procedures]
        for client in self.clients.values():
            for path in paths:
                self._kept_is_fresh(client, path, "pages_compared")
        nurse_paths = [
            reverse("nurse:procedure_list"),
            reverse("nurse:dashboard"),
            reverse("nurse:dashboard") + f"?location={self.second_clinic.pk}",
        ]
        for client in self.care_team.values():
            for path in nurse_paths:
                self._kept_is_fresh(client, path, "nurse_pages_compared")

    def _kept_is_fresh(self, client: Client, path: str, tally: str) -> None:
        """If this request is served a kept page, it is the page made afresh now."""
        # The board remembers the look; the page made afresh must be made as of the same last look.
        looked = client.session.get("dashboard_seen")
        before = self.served.call_count
        kept = client.get(path)
        if self.served.call_count == before:
            return  # made just now, not served from the cache
        if client.session.get("dashboard_seen") != looked:
            session = client.session
            session["dashboard_seen"] = looked
            session.save()
        fresh = _fresh(client, path)
        ran[tally] += 1
        who = client.session.get("_auth_user_id")
        assert kept.status_code == fresh.status_code, (who, path)
        assert _without_token(kept.content) == _without_token(fresh.content), (who, path)


def test_random_changes_never_leave_a_kept_page_behind(kept_pages, db, capsys) -> None:
    run_state_machine_as_test(
        KeptPages,
        settings=settings(
            max_examples=int(os.environ.get("PAGE_CACHE_EXAMPLES", 0)) or state_machine_examples(**EXAMPLES),
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    with capsys.disabled():
        print(f"\nkept pages: {ran}")
    # The comparison means something only if kept pages were served.
    assert ran["pages_compared"] > ran["examples"]
    assert ran["nurse_pages_compared"] > ran["examples"]


# --- One thing at a time ---------------------------------------------------------------------


def _tables_read(client: Client, path: str) -> set[str]:
    from django.apps import apps

    known = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
    with override_settings(PAGE_CACHE=False), CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    words = set(re.findall(r"\w+", " ".join(query["sql"] for query in ctx.captured_queries)))
    return words & known


# Read by every request, not shown on the page: who is signed in, the log, the counters themselves.
NOT_SHOWN = {"django_session", "portal_auditevent", "procedures_pageversion"}


def _triggered(name: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE %s", [name])
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("page", ["family:dashboard", "family:procedure"])
def test_every_table_a_kept_page_reads_moves_its_counters(kept_pages, client, guardian, procedure, page):
    """A table read by a kept page without a trigger would leave the page stale: this names it."""
    first_page = EducationPage.objects.first()
    if first_page is not None:  # a page read puts the page views in the checklist's query
        readiness.record_page_view(user=guardian.user, page=first_page)
    client.force_login(guardian.user)
    path = reverse(page, args=[procedure.pk] if page == "family:procedure" else [])
    read = _tables_read(client, path) - NOT_SHOWN
    assert {"procedures_procedure", "procedures_patient", "portal_user"} <= read
    assert read - _triggered("page\\_version\\_%") == set()


@pytest.mark.parametrize("page", ["nurse:procedure_list", "nurse:dashboard"])
def test_every_table_a_kept_nurse_page_reads_moves_its_counters(kept_pages, client, nurse, guardian, procedure, page):
    client.force_login(nurse)
    # Whom the nurse sees is read through the clinic's nurses: that table moves the nurse's own counter.
    read = _tables_read(client, reverse(page)) - NOT_SHOWN
    assert {"procedures_procedure", "procedures_patient", "procedures_location_nurses"} <= read
    if page == "nurse:dashboard":
        assert {"procedures_symptomreport", "reminders_reminder", "procedures_guardian"} <= read
    if page == "nurse:dashboard":
        assert {"feed_inboundmessage", "feed_sendingsystem_clinics"} <= read
    # Clinics, procedure types and the education pages move "all" (0012), which every nurse page's key holds.
    for_everyone = {"procedures_location", "procedures_proceduretype", "procedures_educationpage"}
    assert for_everyone <= _triggered("page\\_version\\_%")
    assert read - _triggered("nurse\\_page\\_%") - for_everyone == set()


def _served_count(client: Client, path: str) -> tuple[int, bytes]:
    with mock.patch.object(page_cache, "_served", wraps=page_cache._served) as served:
        response = client.get(path)
    assert response.status_code == 200
    return served.call_count, response.content


def test_a_kept_page_is_served_until_something_on_it_changes(
    kept_pages, client, guardian, procedure, nurse, held_clock
):
    client.force_login(guardian.user)
    path = reverse("family:procedure", args=[procedure.pk])
    assert _served_count(client, path)[0] == 0
    assert _served_count(client, path)[0] == 1
    procedure.patient.first_name = "Renamed"
    services.update_child(patient=procedure.patient, changed_by=nurse)
    served, content = _served_count(client, path)
    assert (served, b"Renamed" in content) == (0, True)
    assert _served_count(client, path)[0] == 1


def _kept_count(route: str, outcome: str) -> float:
    return metrics.KEPT_PAGES.labels(route=route, outcome=outcome)._value.get()


def test_the_metrics_count_kept_and_made_pages_by_route(
    kept_pages, client, settings, guardian, procedure, nurse, held_clock
):
    client.force_login(guardian.user)
    path = reverse("family:procedure", args=[procedure.pk])
    route = "family:procedure"
    before = {outcome: _kept_count(route, outcome) for outcome in ("kept", "made")}
    _served_count(client, path)
    _served_count(client, path)
    _served_count(client, path)
    procedure.patient.first_name = "Renamed"
    services.update_child(patient=procedure.patient, changed_by=nurse)
    _served_count(client, path)
    after = {outcome: _kept_count(route, outcome) - before[outcome] for outcome in ("kept", "made")}
    assert after == {"kept": 2, "made": 2}
    settings.METRICS_TOKEN = "scrape"
    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape").content.decode()
    assert 'marrow_kept_pages_total{outcome="kept",route="family:procedure"}' in scraped


def test_the_next_minute_makes_the_page_again(kept_pages, client, guardian, procedure):
    path = reverse("family:dashboard")
    with time_machine.travel(dt.datetime(2026, 12, 7, 17, 59, 59, 500000, tzinfo=dt.UTC), tick=False) as traveller:
        client.force_login(guardian.user)
        assert _served_count(client, path)[0] == 0
        assert _served_count(client, path)[0] == 1
        traveller.shift(dt.timedelta(seconds=0.5))
        assert _served_count(client, path)[0] == 0


def test_each_guardian_has_their_own_kept_pages(kept_pages, guardian, other_guardian, procedure, held_clock):
    mine, theirs = Client(), Client()
    mine.force_login(guardian.user)
    theirs.force_login(other_guardian.user)
    path = reverse("family:procedure", args=[procedure.pk])
    assert mine.get(path).status_code == 200
    assert mine.get(path).status_code == 200  # kept, and served
    assert theirs.get(path).status_code == 404
    assert b"Lakeside" not in theirs.get(reverse("family:dashboard")).content


def test_a_guardian_taken_off_a_child_sees_it_gone_at_once(kept_pages, client, guardian, procedure, nurse, held_clock):
    client.force_login(guardian.user)
    path = reverse("family:procedure", args=[procedure.pk])
    assert client.get(path).status_code == 200
    patient = procedure.patient
    services.update_guardians(patient=patient, changed_by=nurse, apply=lambda: patient.guardians.remove(guardian))
    assert client.get(path).status_code == 404


def test_a_kept_page_still_writes_the_audit_row_with_the_child(kept_pages, client, guardian, procedure, held_clock):
    client.force_login(guardian.user)
    path = reverse("family:procedure", args=[procedure.pk])
    client.get(path)
    assert _served_count(client, path)[0] == 1
    rows = AuditEvent.objects.filter(route="family:procedure", user_id=guardian.user.pk)
    assert list(rows.values_list("patient_id", "object_id")) == [(procedure.patient_id, procedure.pk)] * 2


def test_a_kept_page_carries_a_token_of_this_session(kept_pages, guardian, procedure, held_clock):
    """The same guardian on a phone and a laptop: a page kept for one posts fine from the other."""
    phone, laptop = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    phone.force_login(guardian.user)
    laptop.force_login(guardian.user)
    path = reverse("family:procedure", args=[procedure.pk])
    phone.get(path)
    served, content = _served_count(laptop, path)
    assert served == 1
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content).group(1).decode()
    response = laptop.post(
        reverse("family:confirm_contact", args=[procedure.pk]), {"csrfmiddlewaretoken": token, "number": "+13125550142"}
    )
    assert response.status_code == 302


def test_a_page_with_a_message_waiting_is_made_afresh_and_not_kept(kept_pages, rf, guardian, procedure, held_clock):
    from django.contrib.sessions.backends.cache import SessionStore

    request = rf.get(reverse("family:dashboard"))
    request.user, request.session = guardian.user, SessionStore()
    request._messages = FallbackStorage(request)
    request._messages.add(message_levels.SUCCESS, "Your questions are saved.")
    view = page_cache.kept(lambda request: __import__("django.http").http.HttpResponse(b"page"))
    with mock.patch.object(page_cache, "_key", wraps=page_cache._key) as keyed:
        assert view(request).content == b"page"
    assert keyed.call_count == 0


def test_when_redis_does_not_answer_the_page_is_made(kept_pages, client, guardian, procedure, caplog):
    from redis.exceptions import ConnectionError as RedisDown

    client.force_login(guardian.user)
    with mock.patch.object(type(kept_pages), "get", side_effect=RedisDown("Connection refused")):
        response = client.get(reverse("family:procedure", args=[procedure.pk]))
    assert response.status_code == 200
    assert procedure.patient.first_name.encode() in response.content
    assert "Could not read kept pages" in caplog.text


def test_off_without_a_shared_cache(postgres, settings):
    assert page_cache._store() is None  # the tests' own cache is per process


@contextlib.contextmanager
def _committed_while_rendering(views, write):
    """While a page of `views` renders, after it read its data, `write` runs on a second connection and commits."""
    render = views.render

    def render_then_write(*args, **kwargs):
        response = render(*args, **kwargs)

        def writer() -> None:
            try:
                write()
            finally:
                connection.close()

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join()
        return response

    with mock.patch.object(views, "render", render_then_write):
        yield


def test_a_change_committed_while_a_page_is_made_is_shown_on_the_next_request(
    kept_pages, transactional_db, client, guardian, procedure, nurse, held_clock
):
    """The page was read before the change committed: it is kept under the counters read before it, never after."""
    from procedures.views import family

    client.force_login(guardian.user)
    path = reverse("family:procedure", args=[procedure.pk])

    def rename() -> None:
        child = Patient.objects.get(pk=procedure.patient_id)
        child.first_name = "Committed"
        services.update_child(patient=child, changed_by=nurse)

    with _committed_while_rendering(family, rename):
        made = client.get(path)
    assert b"Committed" not in made.content  # read before the writer committed
    served, content = _served_count(client, path)
    assert (served, b"Committed" in content) == (0, True)


def test_a_kept_page_makes_three_queries_however_many_children(kept_pages, client, guardian, location, held_clock):
    """Who is signed in, the two counters, the audit row: nothing grows with the family's data."""
    from .test_query_counts import _add_procedures, _count

    client.force_login(guardian.user)
    path = reverse("family:dashboard")
    counts = []
    for more in (5, 45):
        _add_procedures(more, location, guardian)
        client.get(path)  # made and kept
        counts.append(_count(client, path))
    assert counts == [3, 3]


# --- The nurse pages ------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["nurse:procedure_list", "nurse:dashboard"])
def test_a_kept_nurse_page_makes_three_queries_however_many_procedures(
    kept_pages, client, nurse, guardian, location, held_clock, page
):
    """Who is signed in, the counters (this nurse's clinics among them), the audit row."""
    from .test_query_counts import _add_procedures, _count

    client.force_login(nurse)
    path = reverse(page)
    counts = []
    for more in (5, 45):
        _add_procedures(more, location, guardian)
        client.get(path)  # made (and the board's first look remembered)
        client.get(path)  # made as of that look, and kept
        counts.append(_count(client, path))
    assert counts == [3, 3]


def test_each_search_has_its_own_kept_list(kept_pages, client, nurse, procedure, held_clock):
    """The search term lives in the session, not the address: the kept list is found by it too."""
    client.force_login(nurse)
    path = reverse("nurse:procedure_list")
    name = procedure.patient.first_name
    client.post(path, {"q": name})
    assert name in _served_count(client, path)[1].decode()
    client.post(path, {"q": "nobody by this name"})
    served, content = _served_count(client, path)
    assert (served, name in content.decode()) == (0, False)
    client.post(path, {"q": name})
    served, content = _served_count(client, path)
    assert (served, name in content.decode()) == (1, True)


NEW_BADGE = 'text-bg-warning">New<'


def test_a_nurse_sees_a_new_warning_sign_at_once_and_new_only_until_the_next_look(
    kept_pages, client, nurse, guardian, procedure
):
    path = reverse("nurse:dashboard")
    with time_machine.travel(dt.datetime(2026, 12, 7, 15, 0, 0, tzinfo=dt.UTC), tick=False) as traveller:
        client.force_login(nurse)
        client.get(path)  # the first look
        traveller.shift(dt.timedelta(seconds=5))
        SymptomReport.objects.create(
            procedure=procedure, user=guardian.user, needs_attention=True, bleeding=True, flags=["bleeding"],
            created_at=timezone.now(),
        )  # fmt: skip
        served, content = _served_count(client, path)
        assert (served, NEW_BADGE in content.decode(), "Alice Parent" in content.decode()) == (0, True, True)
        # That look saw it: ten seconds later, the same minute, it is no longer new.
        traveller.shift(dt.timedelta(seconds=10))
        served, content = _served_count(client, path)
        assert (served, NEW_BADGE in content.decode()) == (0, False)
        served, content = _served_count(client, path)
        assert (served, NEW_BADGE in content.decode()) == (1, False)
        # A kept board counts as a look all the same, once the last one is old enough.
        traveller.shift(dt.timedelta(seconds=35))
        looked = client.session["dashboard_seen"]
        served, _ = _served_count(client, path)
        assert served == 1 and client.session["dashboard_seen"] != looked


def test_a_nurse_taken_off_a_clinic_no_longer_sees_its_children(
    kept_pages, client, nurse, location, procedure, held_clock
):
    client.force_login(nurse)
    path = reverse("nurse:procedure_list")
    name = procedure.patient.full_name
    assert name in client.get(path).content.decode()
    location.nurses.remove(nurse)
    served, content = _served_count(client, path)
    assert (served, name in content.decode()) == (0, False)


def _clinic_counter(location_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM procedures_pageversion WHERE scope = %s", [f"location:{location_id}"])
        return cursor.fetchone()[0]


def test_a_change_committed_while_the_nurse_list_is_made_is_shown_on_the_next_request(
    kept_pages, transactional_db, client, nurse, procedure, held_clock
):
    """The clinic's counter moves when the writer commits (a deferred trigger), in that same commit."""
    from procedures.views import nurse as nurse_views

    client.force_login(nurse)
    path = reverse("nurse:procedure_list")

    def rename() -> None:
        with transaction.atomic():
            child = Patient.objects.get(pk=procedure.patient_id)
            child.first_name = "Committed"
            services.update_child(patient=child, changed_by=nurse)
            counters.append(_clinic_counter(procedure.location_id))  # not yet: it moves with the commit

    counters = [_clinic_counter(procedure.location_id)]
    with _committed_while_rendering(nurse_views, rename):
        made = client.get(path)
    counters.append(_clinic_counter(procedure.location_id))
    assert b"Committed" not in made.content  # read before the writer committed
    assert counters[0] == counters[1] < counters[2]
    served, content = _served_count(client, path)
    assert (served, b"Committed" in content) == (0, True)
    served, content = _served_count(client, path)
    assert (served, b"Committed" in content) == (1, True)


def _all_counters() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT scope, version FROM procedures_pageversion")
        return dict(cursor.fetchall())


def test_a_reread_and_a_sign_in_move_no_counter_and_a_first_read_moves_the_clinics(
    kept_pages, transactional_db, education_content, nurse, guardian, procedure, held_clock
):
    """Families reading during the evening leave the nurse pages kept; a read that changes a count does not.

    Every write commits here, as in production, so the clinics' deferred triggers run as they do there.
    """
    from tests.conftest import log_in
    from tests.factories import PASSWORD

    first, second = [page for page in readiness.education_pages() if not page.steps.exists()][:2]
    family, care = Client(), Client()
    assert log_in(family, guardian.user.email, PASSWORD)
    care.force_login(nurse)
    lists, home = reverse("nurse:procedure_list"), reverse("family:dashboard")
    total = readiness.education_pages().count()

    def read(page: EducationPage) -> None:
        assert family.get(reverse("learn:page", args=[page.slug])).status_code == 200

    read(first)
    assert f"Pages 1/{total}" in care.get(lists).content.decode()  # made, and kept
    assert family.get(home).status_code == 200
    before = _all_counters()
    assert f"location:{procedure.location_id}" in before

    read(first)  # again: only its last_viewed_at moves
    family.logout()
    assert log_in(family, guardian.user.email, PASSWORD)  # last_login moves
    assert _all_counters() == before
    assert _served_count(care, lists)[0] == 1
    assert _served_count(family, home)[0] == 1

    read(second)  # a first read: the checklist's count moves, on the nurse's list and the family's page
    after = _all_counters()
    clinic = f"location:{procedure.location_id}"
    assert after[clinic] > before[clinic]
    assert after[f"user:{guardian.user_id}"] > before[f"user:{guardian.user_id}"]
    served, content = _served_count(care, lists)
    assert (served, f"Pages 2/{total}" in content.decode()) == (0, True)
    assert _served_count(family, home)[0] == 0


def test_a_change_to_a_shown_column_of_a_read_or_an_account_still_moves_the_counters(
    kept_pages, transactional_db, education_content, nurse, guardian, procedure, held_clock
):
    """Only the stamps are left out: any other column of the same rows moves what it moved before."""
    from procedures.models import PageView

    clinic, family = f"location:{procedure.location_id}", f"user:{guardian.user_id}"
    user = guardian.user
    user.full_name = "Alice Renamed"
    before = _all_counters()
    user.save()  # every column written, one of them changed
    renamed = _all_counters()
    assert renamed[clinic] > before.get(clinic, 0) and renamed[family] > before.get(family, 0)
    user.save()  # every column written again, none changed
    assert _all_counters() == renamed

    first, second = readiness.education_pages()[:2]
    seen = PageView.objects.create(user=user, page=first)
    read = _all_counters()
    seen.page = second
    seen.save()  # the read now counts for another page
    moved = _all_counters()
    assert moved[clinic] > read[clinic] and moved[family] > read[family]
