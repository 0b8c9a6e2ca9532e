"""Counters for the nurse pages' cache (procedures.page_cache), moved by PostgreSQL itself.

Every row written that a clinic's list or board shows moves "location:<id>" for each
clinic whose children it concerns; a care-team account's row moves "care" (whose
name is on the board); a nurse's clinics moving moves that nurse's "user:<id>".

Unlike the family counters (0012), these are moved when the writer commits: the
triggers are deferred. A clinic's counter is shared by every family of the clinic, so
it is locked only for the moment of the commit, not for the rest of a writer's
transaction; and since each transaction takes it after every other lock, it cannot
wait in a circle with them. SQLite gets no triggers; the page cache is off there.
"""

from django.db import migrations

# ruff: noqa: S608 - every statement here is made of this file's constants: nothing comes from outside

# The clinics of child {patient}: its own, and each of its procedures'.
CHILD = (
    "SELECT c.location_id FROM procedures_patient c WHERE c.id = {patient}"
    " UNION SELECT p.location_id FROM procedures_procedure p WHERE p.patient_id = {patient}"
)
# The clinics of every child of guardian {guardian} (a guardian row's id).
GUARDIAN = (
    "SELECT at.location_id FROM procedures_patient_guardians l"
    " CROSS JOIN LATERAL (" + CHILD.format(patient="l.patient_id") + ") AS at (location_id)"
    " WHERE l.guardian_id = {guardian}"
)
# The clinics of every child of the guardian who signs in as user {user}.
GUARDIAN_USER = (
    "SELECT mine.location_id FROM procedures_guardian g"
    " CROSS JOIN LATERAL (" + GUARDIAN.format(guardian="g.id") + ") AS mine (location_id)"
    " WHERE g.user_id = {user}"
)
OF_PROCEDURE = "SELECT p.location_id FROM procedures_procedure p WHERE p.id = {row}.procedure_id"


def _clinics(locations: str) -> str:
    """The scopes of the clinics a statement of location ids names."""
    return f"SELECT 'location:' || at.location_id FROM ({locations}) AS at (location_id)"


# For each table a nurse page reads: the scopes one row ({row}: OLD or NEW) moves.
SCOPES = {
    "procedures_procedure": _clinics("SELECT {row}.location_id"),
    "procedures_patient": _clinics(CHILD.format(patient="{row}.id")),
    "procedures_readiness": _clinics(OF_PROCEDURE),
    "procedures_preparedquestion": _clinics(OF_PROCEDURE),
    "procedures_symptomreport": _clinics(OF_PROCEDURE),
    "procedures_patient_guardians": _clinics(CHILD.format(patient="{row}.patient_id")),
    "procedures_guardian": _clinics(GUARDIAN.format(guardian="{row}.id")),
    # A child's row on the list counts the pages read by whichever of its guardians read most.
    "procedures_pageview": _clinics(GUARDIAN_USER.format(user="{row}.user_id")),
    # A guardian's name and whether they can sign in; a care-team member's name on the board.
    "portal_user": _clinics(GUARDIAN_USER.format(user="{row}.id"))
    + " UNION SELECT 'care' WHERE {row}.role <> 'guardian'",
    # Which clinics a nurse sees.
    "procedures_location_nurses": "SELECT 'user:' || {row}.user_id",
}

# One sorted statement a row: a counter never comes back to a value it had (0012's sequence).
BUMP = """
CREATE OR REPLACE FUNCTION nurse_page_bump(scopes text[]) RETURNS void AS $$
    INSERT INTO procedures_pageversion (scope, version)
    SELECT scope, nextval('procedures_pageversion_seq')
    FROM (SELECT DISTINCT scope FROM unnest(scopes) AS moved (scope) WHERE scope IS NOT NULL ORDER BY 1) AS sorted
    ON CONFLICT (scope) DO UPDATE SET version = EXCLUDED.version;
$$ LANGUAGE sql;
"""


def _function(table: str, scopes: str) -> str:
    old, new = scopes.format(row="OLD"), scopes.format(row="NEW")
    return f"""
CREATE OR REPLACE FUNCTION nurse_page_{table}() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN PERFORM nurse_page_bump(ARRAY({new}));
    ELSIF TG_OP = 'DELETE' THEN PERFORM nurse_page_bump(ARRAY({old}));
    ELSE PERFORM nurse_page_bump(ARRAY({old}) || ARRAY({new}));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER nurse_page_{table} AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION nurse_page_{table}();
"""


# The care team's counter; emptying a table moves every nurse page at once too.
CARE = """
CREATE OR REPLACE FUNCTION nurse_page_care() RETURNS trigger AS $$
BEGIN
    PERFORM nurse_page_bump(ARRAY['care']);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def truncate_trigger(table: str) -> str:
    return (
        f"CREATE TRIGGER nurse_page_{table}_truncate AFTER TRUNCATE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION nurse_page_care();"
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BUMP)
        schema_editor.execute(CARE)
        for table, scopes in SCOPES.items():
            schema_editor.execute(_function(table, scopes))
            schema_editor.execute(truncate_trigger(table))


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in SCOPES:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS nurse_page_{table}() CASCADE;")
        schema_editor.execute("DROP FUNCTION IF EXISTS nurse_page_care() CASCADE;")
        schema_editor.execute("DROP FUNCTION IF EXISTS nurse_page_bump(text[]);")


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0012_page_versions"),
    ]

    operations = [migrations.RunPython(forward, backward)]
