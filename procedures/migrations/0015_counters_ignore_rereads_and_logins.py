"""A write moves a page counter only when it changes what a page shows.

Reading an education page again stamps `last_viewed_at`; signing in stamps `last_login`. No page
shows either, yet each moved the reader's family counter (0012) and every counter of the reader's
clinics (0013), so every nurse page of the clinic was made afresh after any family read a page.

Now an UPDATE of portal_user or procedures_pageview moves counters only when a column other than
those stamps changes (a first read is an INSERT and still moves them: it can change a checklist's
count). The rows are compared whole, less the stamps, so a column added later counts as shown
until it is named here. Nurse counters: the deferred row triggers of 0013 get a WHEN condition, so
a re-read or a sign-in queues no trigger at all. Family counters: the statement triggers of 0012
keep only the rows that changed in a shown column.
"""

import importlib

from django.db import migrations

# ruff: noqa: S608 - every statement here is made of this file's constants and 0012's

PAGE_VERSIONS = importlib.import_module("procedures.migrations.0012_page_versions")

# For each table: the columns a write may change without changing any page.
NOT_SHOWN = {
    "portal_user": ("last_login",),
    "procedures_pageview": ("first_viewed_at", "last_viewed_at"),
}


def _shown(row: str, table: str) -> str:
    """The row as jsonb, less the columns no page shows."""
    columns = ", ".join(f"'{column}'" for column in NOT_SHOWN[table])
    return f"(to_jsonb({row}) - ARRAY[{columns}]::text[])"


def _nurse(table: str) -> str:
    name = f"nurse_page_{table}"
    return f"""
DROP TRIGGER IF EXISTS {name} ON {table};
CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {name}();
CREATE CONSTRAINT TRIGGER {name}_update AFTER UPDATE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ({_shown("OLD", table)} IS DISTINCT FROM {_shown("NEW", table)})
    EXECUTE FUNCTION {name}();
"""


def _nurse_back(table: str) -> str:
    name = f"nurse_page_{table}"
    return f"""
DROP TRIGGER IF EXISTS {name}_update ON {table};
DROP TRIGGER IF EXISTS {name} ON {table};
CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {name}();
"""


def _changed_rows(table: str) -> str:
    """An UPDATE's rows, old and new, that differ in a shown column (as rows of the table, stamps empty)."""
    new, old = _shown("n", table), _shown("o", table)
    return (
        f"(SELECT (jsonb_populate_record(NULL::{table}, moved.j)).* FROM ("
        f"(SELECT {new} FROM new_rows n EXCEPT ALL SELECT {old} FROM old_rows o)"
        f" UNION ALL (SELECT {old} FROM old_rows o EXCEPT ALL SELECT {new} FROM new_rows n)"
        ") AS moved (j))"
    )


def _family(table: str, *, only_shown: bool) -> str:
    users = PAGE_VERSIONS.USERS[table]
    both = _changed_rows(table) if only_shown else "(SELECT * FROM old_rows UNION ALL SELECT * FROM new_rows)"
    bump = PAGE_VERSIONS.BUMP
    return f"""
CREATE OR REPLACE FUNCTION page_version_{table}() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {bump.format(users=users.format(rows="new_rows"))}
    ELSIF TG_OP = 'DELETE' THEN {bump.format(users=users.format(rows="old_rows"))}
    ELSIF TG_OP = 'UPDATE' THEN {bump.format(users=users.format(rows=both))}
    ELSE {PAGE_VERSIONS.BUMP_ALL}
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in NOT_SHOWN:
            schema_editor.execute(_nurse(table))
            schema_editor.execute(_family(table, only_shown=True))


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in NOT_SHOWN:
            schema_editor.execute(_nurse_back(table))
            schema_editor.execute(_family(table, only_shown=False))


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0014_clinic_hours_unwell_rule_morning_medicines"),
    ]

    operations = [migrations.RunPython(forward, backward)]
