"""What each pytest-xdist worker (`pytest -n N`) has of its own, so tests on different workers never meet.

- Redis: database number base + worker number, counting up from the database REDIS_URL names
  (`redis://…/1`: worker gw0 uses 1, gw1 uses 2, …). The cache, sessions, kept pages, the Celery
  broker of any real worker a test starts and the provider-slot counters all live there, and a
  test that empties Redis (FLUSHDB) empties only its worker's database.
- PostgreSQL: a copy of one migrated test database (tests/conftest.py `django_db_setup`).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# Redis's default `databases 16`: numbers 0-15.
REDIS_DATABASES = 16


def worker_number(worker: str | None = None) -> int | None:
    """0 for xdist's "gw0", 1 for "gw1", …; None outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker
    if not worker.startswith("gw"):
        return None
    return int(worker[2:])


def redis_url_for_worker(url: str, number: int | None) -> str:
    """The Redis URL of worker `number`: its database counted up from the one `url` names (0 if none)."""
    if not url or number is None:
        return url
    parts = urlsplit(url)
    if "db=" in parts.query:
        raise ValueError("REDIS_URL names its database as ?db=; name it in the path (redis://host:6379/1)")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"REDIS_URL names its database as {path!r}; a number is needed for parallel workers")
    database = int(path or 0) + number
    if database >= REDIS_DATABASES:
        raise ValueError(
            f"worker gw{number} would use Redis database {database}, past the {REDIS_DATABASES} Redis has "
            f"(0-{REDIS_DATABASES - 1}): start from a lower database in REDIS_URL or run fewer workers (-n)"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def is_controller(config: Any) -> bool:
    """The process that hands tests to xdist workers (and runs none itself)."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))


def _shared_name(settings_dict: dict[str, Any]) -> str:
    return (settings_dict.get("TEST") or {}).get("NAME") or "test_" + settings_dict["NAME"]


def copy_of_shared_database(connection: Any, *, worker: str, run: str) -> None:
    """Point this worker's connection at its own copy of the run's one migrated test database.

    One worker at a time (a PostgreSQL advisory lock): the first of this run creates and migrates
    the shared database and labels it with the run's id; each then copies it. A copy needs no
    one connected to its source, so a worker copies and lets go of it before the next takes the lock.
    """
    from django.conf import settings

    creation = connection.creation
    shared = _shared_name(connection.settings_dict)
    quoted = connection.ops.quote_name(shared)
    with creation._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [shared])
        try:
            cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [shared])
            found = cursor.fetchone()
            if found is None or found[0] != run:
                creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
                cursor.execute(f"COMMENT ON DATABASE {quoted} IS %s", [run])
            settings.DATABASES[connection.alias]["NAME"] = connection.settings_dict["NAME"] = shared
            connection.close()
            creation.clone_test_db(suffix=worker, verbosity=0, autoclobber=True)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [shared])
    creation.setup_worker_connection(worker)


def drop_shared_database(settings_dict: dict[str, Any]) -> None:
    """After every worker has finished: the shared database they copied."""
    if settings_dict["ENGINE"] != "django.db.backends.postgresql":
        return
    import psycopg2
    from psycopg2 import sql

    server = psycopg2.connect(
        dbname="postgres", user=settings_dict["USER"] or None, password=settings_dict["PASSWORD"] or None,
        host=settings_dict["HOST"] or None, port=settings_dict["PORT"] or None,
    )  # fmt: skip
    server.autocommit = True
    try:
        with server.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(_shared_name(settings_dict))))
    finally:
        server.close()


def commit_without_waiting_for_disk(connection: Any) -> None:
    """A throwaway database need not survive a crash of PostgreSQL: its commits do not wait for the disk.

    Set on the database, so the Celery workers and threads a test starts get it too. What the tests
    prove (what commits, in which order, who waits for whose lock) is the same: only the wait for
    the WAL to reach the disk goes.
    """
    with connection.cursor() as cursor:
        name = connection.ops.quote_name(connection.settings_dict["NAME"])
        cursor.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
    connection.close()


def can_empty_tables_with_delete(connection: Any) -> bool:
    """Only a superuser may switch triggers off for a transaction (session_replication_role)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cursor.fetchone()[0])


def empty_tables_with_delete(patch: Any) -> None:
    """After each transactional test, empty the tables with DELETE rather than Django's TRUNCATE.

    TRUNCATE gives every one of the ~70 tables new files: a second or more a test on this machine,
    where a DELETE of the few rows a test leaves takes milliseconds. Triggers and foreign-key
    checks are off for that transaction, as they are for TRUNCATE's rows (the audit log refuses a
    DELETE); the truncate triggers that move every page counter do not run, and need not: each
    test that keeps pages keeps them under a key prefix of its own.
    """
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(
        self: Any, style: Any, tables: Any, *, reset_sequences: bool = False, allow_cascade: bool = False
    ) -> list[str]:
        if reset_sequences or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        kept = {ContentType._meta.db_table, Permission._meta.db_table}
        deletes = [f"DELETE FROM {self.quote_name(table)}" for table in tables if table not in kept]  # noqa: S608
        return ["SET LOCAL session_replication_role = replica", *deletes]

    patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
