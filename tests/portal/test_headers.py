"""Security headers, no caching of patient pages, and Django's deployment check."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def test_pages_carry_a_strict_content_security_policy(client, guardian, procedure):
    client.force_login(guardian.user)
    policy = client.get(reverse("family:procedure", args=[procedure.pk]))["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_signed_in_pages_are_never_stored(client, guardian, procedure):
    client.force_login(guardian.user)
    for url in (reverse("family:dashboard"), reverse("family:procedure", args=[procedure.pk])):
        assert "no-store" in client.get(url)["Cache-Control"]


def test_framing_sniffing_and_referrers_are_locked_down(client, db):
    response = client.get(reverse("login"), secure=True)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_check_deploy_is_clean_with_production_settings():
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "marrow.example-hospital.org",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "sqlite:///:memory:"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
