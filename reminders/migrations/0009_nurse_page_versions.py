"""The nurse's board shows the reminders that did not arrive: a reminder entering, leaving or
changing in one of those states moves its clinic's counter (procedures 0013), when the writer
commits. A plain send moves nothing: the conditions are checked before any function runs.
"""

from django.db import migrations

# What the board shows: reminders.models.PROBLEM_STATUSES, as they stand at this migration.
PROBLEMS = "('failed', 'expired', 'unknown')"
FUNCTION = """
CREATE OR REPLACE FUNCTION nurse_page_reminders_reminder() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN {problems} THEN
        PERFORM nurse_page_bump(ARRAY(
            SELECT 'location:' || p.location_id FROM procedures_procedure p WHERE p.id = OLD.procedure_id));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status IN {problems} THEN
        PERFORM nurse_page_bump(ARRAY(
            SELECT 'location:' || p.location_id FROM procedures_procedure p WHERE p.id = NEW.procedure_id));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
""".format(problems=PROBLEMS)
TRIGGERS = """
CREATE CONSTRAINT TRIGGER nurse_page_reminders_reminder_insert AFTER INSERT ON reminders_reminder
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.status IN {problems})
    EXECUTE FUNCTION nurse_page_reminders_reminder();
CREATE CONSTRAINT TRIGGER nurse_page_reminders_reminder_update AFTER UPDATE ON reminders_reminder
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status IN {problems} OR NEW.status IN {problems})
    EXECUTE FUNCTION nurse_page_reminders_reminder();
CREATE CONSTRAINT TRIGGER nurse_page_reminders_reminder_delete AFTER DELETE ON reminders_reminder
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status IN {problems})
    EXECUTE FUNCTION nurse_page_reminders_reminder();
CREATE TRIGGER nurse_page_reminders_reminder_truncate AFTER TRUNCATE ON reminders_reminder
    FOR EACH STATEMENT EXECUTE FUNCTION nurse_page_care();
""".format(problems=PROBLEMS)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)
        schema_editor.execute(TRIGGERS)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS nurse_page_reminders_reminder() CASCADE;")
        schema_editor.execute("DROP TRIGGER IF EXISTS nurse_page_reminders_reminder_truncate ON reminders_reminder;")


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0013_nurse_page_versions"),
        ("reminders", "0008_problems_index"),
    ]

    operations = [migrations.RunPython(forward, backward)]
