"""Load education content from a JSON file in procedures/content/.

The migration uses it to ship the pages; afterwards staff edit them in the
admin. `python manage.py load_education --replace` loads the file again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

CONTENT_DIR = Path(__file__).resolve().parent / "content"
BONE_MARROW_FILE = CONTENT_DIR / "bone_marrow.json"

_PAGE_FIELDS = ("title_en", "title_es", "body_en", "body_es")
_STEP_FIELDS = ("title_en", "title_es", "text_en", "text_es", "image", "alt_en", "alt_es")


def load_content(path: Path, *, models: Any, replace: bool = False, only: Collection[str] = ()) -> int:
    """Create (or with replace=True, overwrite) the pages in the file. Returns pages written.

    `models` is anything with ProcedureType, EducationPage and EducationStep
    attributes: the app module, or historical models inside a migration.
    `only` limits the work to the pages with these slugs: a migration that
    ships new text for two pages leaves the others as staff edited them.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    kind = data["procedure_type"]
    procedure_type, _ = models.ProcedureType.objects.update_or_create(
        slug=kind["slug"], defaults={"name_en": kind["name_en"], "name_es": kind["name_es"]}
    )
    reviewed_on = dt.date.fromisoformat(data["reviewed_on"])
    written = 0
    for entry in data["pages"]:
        if only and entry["slug"] not in only:
            continue
        existing = models.EducationPage.objects.filter(procedure_type=procedure_type, slug=entry["slug"]).first()
        if existing and not replace:
            continue
        fields = {name: entry[name] for name in _PAGE_FIELDS}
        page, _ = models.EducationPage.objects.update_or_create(
            procedure_type=procedure_type,
            slug=entry["slug"],
            defaults={**fields, "order": entry["order"], "reviewed_on": reviewed_on},
        )
        models.EducationStep.objects.filter(page=page).delete()
        models.EducationStep.objects.bulk_create(
            models.EducationStep(page=page, order=number, **{name: step[name] for name in _STEP_FIELDS})
            for number, step in enumerate(entry.get("steps", []), start=1)
        )
        written += 1
    return written
