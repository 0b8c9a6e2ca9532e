from django.db import migrations


def add(apps, schema_editor):
    from procedures.warning_signs import add_default_rules

    add_default_rules(apps.get_model("procedures", "RedFlagRule"))


def remove(apps, schema_editor):
    apps.get_model("procedures", "RedFlagRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("procedures", "0005_aftercare_check_ins")]

    operations = [migrations.RunPython(add, remove)]
