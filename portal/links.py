"""Links a page repeats on every row: one URL pattern reversed once, the row's id filled in.

`reverse()` walks the resolver on every call, and a busy list asks for the same
pattern dozens of times with only the id changing. The pattern is the same for
every request with the same script prefix and URL configuration, so the text
around the id is kept per (name, prefix, urlconf); the id itself is an integer
and goes in as it is, exactly where `reverse()` would put it.
"""

from __future__ import annotations

import functools

from django.urls import get_script_prefix, get_urlconf, reverse

from .converters import MAX_ID

# An id no row has: where it lands in the reversed URL is where every row's id goes.
_MARK = str(MAX_ID)


@functools.cache
def _around_id(name: str, prefix: str, urlconf: str | None) -> tuple[str, str]:
    url = reverse(name, urlconf=urlconf, args=[MAX_ID])
    before, mark, after = url.rpartition(_MARK)
    if not mark or _MARK in before:
        raise ValueError(f"{name} does not take one id")
    return before, after


def id_url(name: str, pk: int) -> str:
    """The same as reverse(name, args=[pk]) for a route whose only argument is an id."""
    before, after = _around_id(name, get_script_prefix(), get_urlconf())
    return f"{before}{int(pk)}{after}"
