from django.db import migrations


def load(apps, schema_editor):
    from types import SimpleNamespace

    from procedures.content_loader import BONE_MARROW_FILE, load_content

    models = SimpleNamespace(
        ProcedureType=apps.get_model("procedures", "ProcedureType"),
        EducationPage=apps.get_model("procedures", "EducationPage"),
        EducationStep=apps.get_model("procedures", "EducationStep"),
    )
    load_content(BONE_MARROW_FILE, models=models)


def unload(apps, schema_editor):
    apps.get_model("procedures", "ProcedureType").objects.filter(slug="bone-marrow").delete()


class Migration(migrations.Migration):
    dependencies = [("procedures", "0002_fasting_education_readiness")]

    operations = [migrations.RunPython(load, unload)]
