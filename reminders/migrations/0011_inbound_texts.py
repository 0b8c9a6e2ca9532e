"""Every text a family sends is kept (reminders.models.InboundText).

The nurse's board shows a clinic's texts and its families' answers: a row written
moves its clinic's counter (procedures 0013), when the writer commits; a text
from a number no guardian has (no clinic) moves the care team's, which every
nurse page is kept under.
"""

import django.db.models.deletion
import django.utils.timezone
import portal.choices
from django.conf import settings
from django.db import migrations, models


FUNCTION = """
CREATE OR REPLACE FUNCTION nurse_page_reminders_inboundtext() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM nurse_page_bump(ARRAY[COALESCE('location:' || OLD.location_id, 'care')]);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM nurse_page_bump(ARRAY[COALESCE('location:' || NEW.location_id, 'care')]);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER nurse_page_reminders_inboundtext AFTER INSERT OR UPDATE OR DELETE
    ON reminders_inboundtext DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION nurse_page_reminders_inboundtext();
CREATE TRIGGER nurse_page_reminders_inboundtext_truncate AFTER TRUNCATE ON reminders_inboundtext
    FOR EACH STATEMENT EXECUTE FUNCTION nurse_page_care();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS nurse_page_reminders_inboundtext() CASCADE;")
        schema_editor.execute("DROP TRIGGER IF EXISTS nurse_page_reminders_inboundtext_truncate ON reminders_inboundtext;")


class Migration(migrations.Migration):

    dependencies = [
        ('procedures', '0019_location_text_name'),
        ('reminders', '0010_reminder_lease_and_attempt_times'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='InboundText',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('by_text', models.BooleanField(default=True)),
                ('from_number', models.CharField(blank=True, max_length=64)),
                ('body', models.TextField(blank=True, max_length=1600)),
                ('provider_message_id', models.CharField(blank=True, max_length=64)),
                ('meaning', models.CharField(choices=[('confirmed', 'Confirmed'), ('cant_come', "Family says they can't come"), ('late', 'Family says they will be late'), ('opt_out', 'Stopped texts'), ('opt_in', 'Texts back on'), ('help', 'Asked for help'), ('message', 'Message')], default='message', max_length=12, verbose_name='reply')),
                ('procedure_version', models.PositiveIntegerField(blank=True, null=True)),
                ('answered_at', models.DateTimeField(blank=True, null=True)),
                ('answered_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('guardian', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='inbound_texts', to='procedures.guardian')),
                ('location', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='inbound_texts', to='procedures.location')),
                ('procedure', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='inbound_texts', to='procedures.procedure')),
            ],
            options={
                'verbose_name': 'text from a family',
                'verbose_name_plural': 'texts from families',
                'ordering': ['-received_at', '-pk'],
                'indexes': [models.Index(fields=['location', 'received_at'], name='inbound_location_received'), models.Index(fields=['procedure', 'received_at'], name='inbound_procedure_received')],
            },
            bases=(portal.choices.ChoiceLabels, models.Model),
        ),
        migrations.RunPython(forward, backward),
]
