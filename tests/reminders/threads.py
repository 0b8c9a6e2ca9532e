"""A second connection to the test database: a thread, the PostgreSQL backend it runs on, and what it raised."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection, connections


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def in_thread(
    target: Callable[[], object], errors: list[BaseException], pids: list[int] | None = None
) -> threading.Thread:
    """Run `target` in a started thread on its own connection, closed at the end; what it raises goes to `errors`."""

    def run() -> None:
        try:
            if pids is not None:
                pids.append(backend_pid())
            target()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread
