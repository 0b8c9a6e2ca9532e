"""A kept family page is always the page that would be made now (procedures/page_cache.py).

PostgreSQL and a real Redis: the triggers that move the page counters and the
shared cache the pages are kept in are the parts under test.
"""

from __future__ import annotations

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

from portal.models import AuditEvent, Role
from procedures import page_cache, readiness, services
from procedures.models import EducationPage, FastingPolicy, Patient, PreparedQuestion, Procedure

from ..factories import GuardianFactory, LocationFactory, PatientFactory, UserFactory

CHICAGO = ZoneInfo("America/Chicago")
# The evening before the appointments: the night's cut-offs pass while the clock moves.
START = dt.datetime(2026, 12, 7, 18, 0, tzinfo=CHICAGO)
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
EXAMPLES = int(os.environ.get("PAGE_CACHE_EXAMPLES", "25"))
ran = {"examples": 0, "steps": 0, "pages_compared": 0, "mornings": 0, "running_late": 0}


@pytest.fixture
def kept_pages(postgres, redis_url):
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
    """Two families, one of them with two guardians; anything on their pages changes in any order.

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
        for guardian_pk, client in self.clients.items():
            for path in paths:
                before = self.served.call_count
                kept = client.get(path)
                if self.served.call_count == before:
                    continue  # made just now, not served from the cache
                fresh = _fresh(client, path)
                ran["pages_compared"] += 1
                assert kept.status_code == fresh.status_code, (guardian_pk, path)
                assert _without_token(kept.content) == _without_token(fresh.content), (guardian_pk, path)


def test_random_changes_never_leave_a_kept_page_behind(kept_pages, db, capsys) -> None:
    run_state_machine_as_test(
        KeptPages,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    with capsys.disabled():
        print(f"\nkept pages: {ran}")
    # The comparison means something only if kept pages were served.
    assert ran["pages_compared"] > ran["examples"]


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


@pytest.mark.parametrize("page", ["family:dashboard", "family:procedure"])
def test_every_table_a_kept_page_reads_moves_its_counters(kept_pages, client, guardian, procedure, page):
    """A table read by a kept page without a trigger would leave the page stale: this names it."""
    first_page = EducationPage.objects.first()
    if first_page is not None:  # a page read puts the page views in the checklist's query
        readiness.record_page_view(user=guardian.user, page=first_page)
    client.force_login(guardian.user)
    path = reverse(page, args=[procedure.pk] if page == "family:procedure" else [])
    read = _tables_read(client, path) - NOT_SHOWN
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'page\\_version\\_%%'"
        )
        moved = {row[0] for row in cursor.fetchall()}
    assert {"procedures_procedure", "procedures_patient", "portal_user"} <= read
    assert read - moved == set()


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
    with mock.patch.object(type(kept_pages), "get_many", side_effect=RedisDown("Connection refused")):
        response = client.get(reverse("family:procedure", args=[procedure.pk]))
    assert response.status_code == 200
    assert procedure.patient.first_name.encode() in response.content
    assert "Could not read kept pages" in caplog.text


def test_off_without_a_shared_cache(postgres, settings):
    assert page_cache._store() is None  # the tests' own cache is per process


def test_a_change_committed_while_a_page_is_made_is_shown_on_the_next_request(
    kept_pages, transactional_db, client, guardian, procedure, nurse, held_clock
):
    """The page was read before the change committed: it is kept under the counters read before it, never after."""
    from procedures.views import family

    client.force_login(guardian.user)
    path = reverse("family:procedure", args=[procedure.pk])
    render = family.render

    def render_then_rename(*args, **kwargs):
        response = render(*args, **kwargs)

        def rename() -> None:
            try:
                child = Patient.objects.get(pk=procedure.patient_id)
                child.first_name = "Committed"
                services.update_child(patient=child, changed_by=nurse)
            finally:
                connection.close()

        writer = threading.Thread(target=rename)
        writer.start()
        writer.join()
        return response

    with mock.patch.object(family, "render", render_then_rename):
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
