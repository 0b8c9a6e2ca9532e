"""One page of a list in one query: its rows, each carrying how many rows the whole list has."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Window

_TOTAL = "paging_total"


def page_of(queryset: QuerySet[Any], number: Any, per_page: int) -> Page:
    """What `Paginator(queryset, per_page).get_page(number)` gives, without its COUNT query.

    The total comes with the rows (COUNT(*) OVER ()), so a list costs one query
    however long it is. A page past the end (an old link) goes to Paginator,
    which counts and shows the last page, as it always did.
    """
    paginator = Paginator(queryset, per_page)
    try:
        if isinstance(number, float) and not number.is_integer():
            raise ValueError(number)
        wanted = int(number)
    except (TypeError, ValueError):
        wanted = 1
    if wanted < 1:
        return paginator.get_page(number)
    bottom = (wanted - 1) * per_page
    rows = list(queryset.annotate(**{_TOTAL: Window(Count("*"))})[bottom : bottom + per_page])
    if not rows:
        if wanted > 1:
            return paginator.get_page(number)
        paginator.count = 0
        return Page(rows, 1, paginator)
    first = rows[0]
    paginator.count = first[_TOTAL] if isinstance(first, dict) else getattr(first, _TOTAL)
    return Page(rows, wanted, paginator)
