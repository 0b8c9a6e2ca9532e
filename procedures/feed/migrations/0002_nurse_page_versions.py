"""The nurse's board counts the record system's messages that could not be applied: a message
entering, changing in or leaving that state moves the counters (procedures 0013) of the clinics
its system books for, or the care team's when no system is known (only administrators see it).
Which clinics a system books for moves those clinics' counters; a system's own row, the care
team's. Deferred to the writer's commit, as in 0013; a message applied as it should be runs no
trigger function.
"""

from django.db import migrations

# What the board counts: procedures.feed.models.MessageStatus.FAILED, as it stands at this migration.
FAILED = "'failed'"
CLINICS = (
    "SELECT 'location:' || c.location_id FROM feed_sendingsystem_clinics c WHERE c.sendingsystem_id = {row}.system_id"
    " UNION SELECT 'care' WHERE {row}.system_id IS NULL"
)
FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION nurse_page_feed_inboundmessage() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = {FAILED} THEN
        PERFORM nurse_page_bump(ARRAY({CLINICS.format(row="OLD")}));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = {FAILED} THEN
        PERFORM nurse_page_bump(ARRAY({CLINICS.format(row="NEW")}));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION nurse_page_feed_sendingsystem_clinics() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM nurse_page_bump(ARRAY['location:' || OLD.location_id]); END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM nurse_page_bump(ARRAY['location:' || NEW.location_id]); END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
TRIGGERS = f"""
CREATE CONSTRAINT TRIGGER nurse_page_feed_inboundmessage_insert AFTER INSERT ON feed_inboundmessage
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.status = {FAILED})
    EXECUTE FUNCTION nurse_page_feed_inboundmessage();
CREATE CONSTRAINT TRIGGER nurse_page_feed_inboundmessage_update AFTER UPDATE ON feed_inboundmessage
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status = {FAILED} OR NEW.status = {FAILED})
    EXECUTE FUNCTION nurse_page_feed_inboundmessage();
CREATE CONSTRAINT TRIGGER nurse_page_feed_inboundmessage_delete AFTER DELETE ON feed_inboundmessage
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status = {FAILED})
    EXECUTE FUNCTION nurse_page_feed_inboundmessage();
CREATE CONSTRAINT TRIGGER nurse_page_feed_sendingsystem_clinics
    AFTER INSERT OR UPDATE OR DELETE ON feed_sendingsystem_clinics
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION nurse_page_feed_sendingsystem_clinics();
CREATE CONSTRAINT TRIGGER nurse_page_feed_sendingsystem AFTER INSERT OR UPDATE OR DELETE ON feed_sendingsystem
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION nurse_page_care();
"""
TABLES = ("feed_inboundmessage", "feed_sendingsystem_clinics", "feed_sendingsystem")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)
        schema_editor.execute(TRIGGERS)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER nurse_page_{table}_truncate AFTER TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION nurse_page_care();"
            )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS nurse_page_feed_inboundmessage() CASCADE;")
        schema_editor.execute("DROP FUNCTION IF EXISTS nurse_page_feed_sendingsystem_clinics() CASCADE;")
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS nurse_page_{table}_truncate ON {table};")
        schema_editor.execute("DROP TRIGGER IF EXISTS nurse_page_feed_sendingsystem ON feed_sendingsystem;")


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0013_nurse_page_versions"),
        ("feed", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
