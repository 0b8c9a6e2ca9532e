"""The dashboard's delivery problems are read through their own partial index, not a scan of every reminder."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Window
from django.utils import timezone

from reminders import dashboard
from reminders.models import Reminder


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # With a handful of rows a sequential scan is cheaper; forbid it to see whether the index can serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_problems_page_and_its_count_can_use_the_partial_index(location, procedure, guardian, postgres):
    statuses = ("failed", "expired", "unknown", "scheduled", "delivered")
    for number, status in enumerate(statuses):
        Reminder.objects.create(
            procedure=procedure, guardian=guardian, channel="email", kind="changed", status=status,
            procedure_version=procedure.version + 100 + number,
            due_at=timezone.now(), valid_until=timezone.now(),
        )  # fmt: skip
    page = dashboard.problems(location, timezone.now(), {})["problems"]
    assert {reminder.status for reminder in page} == {"failed", "expired", "unknown"}
    listed = page.paginator.object_list
    assert "reminder_problems" in _plan(listed[:20])
    # The page's own query, which counts the whole list beside its rows (portal.paging).
    assert "reminder_problems" in _plan(listed.annotate(total=Window(Count("*")))[:20])
