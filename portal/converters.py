"""URL converters shared by every app's urls.py."""

from __future__ import annotations

# The largest value a PostgreSQL bigint (and so any primary key here) can hold.
MAX_ID = 2**63 - 1


class IdConverter:
    """A row id in a URL: a positive integer a bigint can hold.

    Anything larger does not match the route, so it is a 404 like any other
    missing row, and never reaches a query or the audit log.
    """

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValueError(value)  # the route does not match
        return number

    def to_url(self, value: int) -> str:
        return str(value)
