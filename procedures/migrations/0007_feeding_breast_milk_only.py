from django.db import migrations, models

# "breast_milk" used to mean a breast-fed baby who may also have formula. It now
# means breast milk only, with a shorter fast. Every child saved under the old
# meaning moves to "breast_and_formula": the longer formula fast is the safe side
# until a nurse says otherwise.


def to_breast_and_formula(apps, schema_editor):
    apps.get_model("procedures", "Patient").objects.filter(feeding="breast_milk").update(feeding="breast_and_formula")


def to_breast_milk(apps, schema_editor):
    apps.get_model("procedures", "Patient").objects.filter(feeding="breast_and_formula").update(feeding="breast_milk")


class Migration(migrations.Migration):
    dependencies = [("procedures", "0006_default_warning_signs")]

    operations = [
        migrations.AlterField(
            model_name="patient",
            name="feeding",
            field=models.CharField(
                choices=[
                    ("breast_milk", "Breast milk only"),
                    ("breast_and_formula", "Breast milk and formula"),
                    ("formula", "Formula"),
                    ("regular", "Regular diet"),
                ],
                default="regular",
                max_length=20,
                verbose_name="feeding",
            ),
        ),
        migrations.RunPython(to_breast_and_formula, to_breast_milk),
    ]
