"""What the benchmark scripts share: a database of their own, created when missing."""

from __future__ import annotations

from urllib.parse import urlparse


def ensure_database(url: str) -> None:
    """Create the database named in a postgres:// URL if it is not there yet."""
    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = psycopg2.connect(
        host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
        password=parsed.password or "", dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
