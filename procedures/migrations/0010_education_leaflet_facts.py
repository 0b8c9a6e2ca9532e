"""New text for two education pages: what to bring; the bandage, baths and pain at home.

Only these two pages are written again; the others stay as staff edited them.
"""

from django.db import migrations

PAGES = ("getting-ready", "after-the-procedure")


def load(apps, schema_editor):
    from types import SimpleNamespace

    from procedures.content_loader import BONE_MARROW_FILE, load_content

    models = SimpleNamespace(
        ProcedureType=apps.get_model("procedures", "ProcedureType"),
        EducationPage=apps.get_model("procedures", "EducationPage"),
        EducationStep=apps.get_model("procedures", "EducationStep"),
    )
    load_content(BONE_MARROW_FILE, models=models, replace=True, only=PAGES)


class Migration(migrations.Migration):
    dependencies = [("procedures", "0009_guardian_text_consent")]

    # Going back keeps the newer text: it is still right for the older schema.
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
