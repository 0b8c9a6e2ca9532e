"""Spanish is complete, and the guardian's language picks it."""

from __future__ import annotations

import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests.conftest import latest_invitation, need

PO_FILE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"


def test_every_spanish_entry_is_translated_and_not_fuzzy():
    po = polib.pofile(str(PO_FILE))
    assert not po.untranslated_entries()
    assert not po.fuzzy_entries()
    for entry in po:
        for placeholder in ("%(", "{"):
            if placeholder in entry.msgid:
                assert placeholder in (entry.msgstr or entry.msgstr_plural[0]), entry.msgid


def test_every_interface_string_in_the_code_is_in_the_catalogue(tmp_path):
    """Extract the strings afresh; any string missing from the Spanish file fails."""
    if shutil.which("xgettext") is None:
        need("GNU gettext (xgettext) is not installed")
    saved = tmp_path / "django.po"
    shutil.copy(PO_FILE, saved)
    try:
        call_command(
            "makemessages", locale=["es"], ignore_patterns=[".venv/*", "tests/*", "staticfiles/*"], verbosity=0
        )
        fresh = {(e.msgid, e.msgctxt) for e in polib.pofile(str(PO_FILE)) if not e.obsolete}
    finally:
        shutil.copy(saved, PO_FILE)
    known = {(e.msgid, e.msgctxt) for e in polib.pofile(str(PO_FILE)) if e.translated()}
    assert fresh - known == set()


def test_the_switch_saves_the_guardians_language(client, guardian):
    client.force_login(guardian.user)
    response = client.post(reverse("set_language"), {"language": "es", "next": reverse("family:dashboard")})
    assert response.status_code == 302
    guardian.user.refresh_from_db()
    assert guardian.user.language == "es"
    page = client.get(reverse("family:dashboard")).content.decode()
    assert 'lang="es"' in page and "Hola" in page


def test_saved_language_wins_over_the_browser(client, guardian):
    guardian.user.language = "es"
    guardian.user.save()
    client.force_login(guardian.user)
    page = client.get(reverse("family:dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Hola" in page


def test_a_language_picked_on_the_login_page_sticks_after_login(client, guardian):
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    response = client.post(reverse("login"), {"username": guardian.user.email, "password": "correct-horse-battery-9"})
    assert response.status_code == 302
    guardian.user.refresh_from_db()
    assert guardian.user.language == "es"


def test_unknown_language_is_ignored(client, guardian):
    client.force_login(guardian.user)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    guardian.user.refresh_from_db()
    assert guardian.user.language == "en"


def test_invitation_email_is_in_the_guardians_language(client, django_capture_on_commit_callbacks, nurse, patient):
    client.force_login(nurse)
    data = {"full_name": "Gina", "email": "gina@example.org", "mobile_number": "", "relationship": "", "language": "es"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("nurse:guardian_add", args=[patient.pk]), data)
    invitation = latest_invitation()
    assert invitation.subject == "Su invitación a Marrow Ready"
    assert "Abra este enlace" in invitation.body


@pytest.mark.parametrize("url_name", ["login"])
def test_login_page_follows_the_browser_language(client, db, url_name):
    page = client.get(reverse(url_name), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Iniciar sesión" in page
