"""Demo data, health check, logs, Celery wiring and the compose file."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from portal.celery import app
from portal.logging import JsonFormatter
from portal.models import Heartbeat, User
from portal.tasks import record_heartbeat
from procedures.models import Procedure, Sedation
from reminders.management.commands.load_demo_data import DEMO_BACKUP_CODES
from reminders.models import Reminder
from tests.conftest import log_in, need

ROOT = Path(__file__).resolve().parents[2]


def test_demo_data_refuses_to_run_when_debug_is_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run when DEBUG is off"):
        call_command("load_demo_data")
    assert not User.objects.exists()


def test_demo_data_creates_the_documented_logins_and_procedures(client, db, settings):
    settings.DEBUG = True
    call_command("load_demo_data")
    call_command("load_demo_data")  # safe to run again
    for email in ("nurse@example.org", "parent@example.org", "parent2@example.org"):
        assert log_in(client, email, "marrow-demo-2026"), email
        client.logout()
    sedations = sorted(Procedure.objects.values_list("sedation", flat=True))
    assert sedations == sorted([Sedation.GENERAL, Sedation.SEDATION, Sedation.LOCAL])
    tomorrow = Procedure.objects.get(sedation=Sedation.GENERAL)
    assert tomorrow.local_start.hour < 12
    log_in(client, "nurse@example.org", "marrow-demo-2026")
    client.post(reverse("two_factor_verify"), {"code": DEMO_BACKUP_CODES["nurse@example.org"][1]})
    assert len(client.get(reverse("nurse:procedure_list")).context["page"]) == 3
    # Each demo procedure has its reminders planned, on both channels for the demo families.
    assert set(Reminder.objects.values_list("channel", flat=True)) == {"sms", "email"}
    assert Reminder.objects.filter(kind="confirmation").count() == 6


def test_health_check_reports_the_database(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    checks = response.json()
    assert checks["status"] == "ok" and checks["database"] == "ok"
    assert set(checks.values()) == {"ok"}  # Redis (when set) and each channel too


def test_heartbeat_counts_up(db):
    record_heartbeat("x")
    assert record_heartbeat("x").beats == 2
    assert Heartbeat.objects.count() == 1


def test_beat_schedule_names_a_registered_task():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


def test_log_lines_are_json_with_extra_fields():
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO", "name": "t", "procedure_id": 7})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello"
    assert line["procedure_id"] == 7


def test_log_lines_carry_utc_time_in_milliseconds_level_logger_and_the_exception():
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        record = logging.makeLogRecord(
            {
                "msg": "sent %s",
                "args": ("x",),
                "levelname": "ERROR",
                "name": "reminders.tasks",
                "created": 1_700_000_000.1234,
                "exc_info": sys.exc_info(),
                "reminder_id": 3,
                "took": Decimal("1.5"),
                "_private": "left out",
            }
        )
    line = json.loads(JsonFormatter().format(record))
    exception = line.pop("exception")
    assert line == {
        "time": "2023-11-14T22:13:20.123+00:00",
        "level": "ERROR",
        "logger": "reminders.tasks",
        "message": "sent x",
        "reminder_id": 3,
        "took": "1.5",
    }
    assert exception.startswith("Traceback (most recent call last):") and exception.endswith("ZeroDivisionError: boom")


def test_the_configured_handlers_write_json_lines():
    formatter = logging.getLogger().handlers[0].formatter
    assert isinstance(formatter, JsonFormatter)
    record = logging.makeLogRecord({"msg": "ok", "levelname": "INFO", "name": "portal"})
    assert list(json.loads(formatter.format(record))) == ["time", "level", "logger", "message"]


def test_request_log_names_the_route_not_the_search(client, nurse, procedure, caplog):
    client.force_login(nurse)
    with caplog.at_level(logging.INFO, logger="portal.request"):
        client.post(reverse("nurse:procedure_list"), {"q": procedure.patient.last_name}, follow=True)
    logged = " ".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert "nurse:procedure_list" in logged
    assert procedure.patient.last_name not in logged


def test_database_connections_are_persistent():
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        pytest.skip("SQLite connections are per thread")
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] > 0
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_is_valid():
    command = _compose_command()
    if command is None:
        need("neither `docker compose` nor `docker-compose` is installed")
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "SECRET_KEY": "x", "POSTGRES_PASSWORD": "x", "HOME": str(ROOT)}
    result = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_every_part_with_a_health_check():
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" in services["web"]["command"]
    assert "migrate" in services["migrate"]["command"]
