"""Counters for the family pages' cache (procedures.page_cache), moved by PostgreSQL itself.

Every statement that writes a table a family page reads moves a counter in the
writer's own transaction: "user:<id>" for each guardian whose page it changes,
"all" for what every family sees. Triggers catch every writer (the portal, the
admin's bulk actions, the record feed, a hand-typed UPDATE). SQLite gets the
table and no triggers; the page cache is off there.
"""

from django.db import migrations, models

# The guardians of child {patient}, joined on as `g`.
FAMILY = (
    "JOIN procedures_patient_guardians l ON l.patient_id = {patient}"
    " JOIN procedures_guardian g ON g.id = l.guardian_id"
)
# For each table a family page reads: the users whose page the rows `r` change.
USERS = {
    "portal_user": "SELECT r.id FROM {rows} r",
    "procedures_guardian": "SELECT r.user_id FROM {rows} r",
    "procedures_patient_guardians": (
        "SELECT g.user_id FROM {rows} r JOIN procedures_guardian g ON g.id = r.guardian_id"
    ),
    "procedures_patient": "SELECT g.user_id FROM {rows} r " + FAMILY.format(patient="r.id"),
    "procedures_procedure": "SELECT g.user_id FROM {rows} r " + FAMILY.format(patient="r.patient_id"),
    "procedures_readiness": (
        "SELECT g.user_id FROM {rows} r JOIN procedures_procedure p ON p.id = r.procedure_id "
        + FAMILY.format(patient="p.patient_id")
    ),
    "procedures_preparedquestion": (
        "SELECT g.user_id FROM {rows} r JOIN procedures_procedure p ON p.id = r.procedure_id "
        + FAMILY.format(patient="p.patient_id")
    ),
    # A child's checklist counts the pages read by whichever of its guardians read most.
    "procedures_pageview": (
        "SELECT g.user_id FROM {rows} r JOIN procedures_guardian me ON me.user_id = r.user_id"
        " JOIN procedures_patient_guardians mine ON mine.guardian_id = me.id "
        + FAMILY.format(patient="mine.patient_id")
        + " UNION SELECT r.user_id FROM {rows} r"
    ),
}
# Tables every family's pages read: clinics, the education pages and the fasting policy.
EVERYONE = ("procedures_location", "procedures_educationpage", "procedures_proceduretype", "procedures_fastingpolicy")

# Each new value is drawn from a sequence: a counter never comes back to a value it had, even after
# its table is emptied, so a page kept under an old value can never match again.
BUMP = """
    INSERT INTO procedures_pageversion (scope, version)
    SELECT scope, nextval('procedures_pageversion_seq') FROM (
        SELECT DISTINCT 'user:' || u AS scope FROM ({users}) AS changed (u) WHERE u IS NOT NULL ORDER BY 1
    ) AS scopes
    ON CONFLICT (scope) DO UPDATE SET version = EXCLUDED.version;
"""
BUMP_ALL = """
    INSERT INTO procedures_pageversion (scope, version) VALUES ('all', nextval('procedures_pageversion_seq'))
    ON CONFLICT (scope) DO UPDATE SET version = EXCLUDED.version;
"""
SEQUENCE = "CREATE SEQUENCE procedures_pageversion_seq;"


def _function(table: str, body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION page_version_{table}() RETURNS trigger AS $$
BEGIN
{body}
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _per_user(table: str, users: str) -> str:
    # Transition tables allow one event a trigger; the function reads the ones its event has.
    both = "(SELECT * FROM old_rows UNION ALL SELECT * FROM new_rows)"
    body = f"""
    IF TG_OP = 'INSERT' THEN {BUMP.format(users=users.format(rows="new_rows"))}
    ELSIF TG_OP = 'DELETE' THEN {BUMP.format(users=users.format(rows="old_rows"))}
    ELSIF TG_OP = 'UPDATE' THEN {BUMP.format(users=users.format(rows=both))}
    ELSE {BUMP_ALL}
    END IF;"""
    name = f"page_version_{table}"
    return _function(table, body) + f"""
CREATE TRIGGER {name}_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {name}();
"""


def _for_everyone(table: str) -> str:
    name = f"page_version_{table}"
    return _function(table, BUMP_ALL) + f"""
CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {name}();
"""


def _drop(table: str) -> str:
    return f"DROP FUNCTION IF EXISTS page_version_{table}() CASCADE;"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEQUENCE)
        for table, users in USERS.items():
            schema_editor.execute(_per_user(table, users))
        for table in EVERYONE:
            schema_editor.execute(_for_everyone(table))


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in (*USERS, *EVERYONE):
            schema_editor.execute(_drop(table))
        schema_editor.execute("DROP SEQUENCE IF EXISTS procedures_pageversion_seq;")


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0011_check_in_pain_question"),
        ("portal", "0006_system_role"),
    ]

    operations = [
        migrations.CreateModel(
            name="PageVersion",
            fields=[
                ("scope", models.CharField(max_length=32, primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(forward, backward),
    ]
