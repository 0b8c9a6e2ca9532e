"""Counters PostgreSQL moves on for every change a kept page shows (procedures.page_cache reads them).

For the family pages: one row a guardian's login ("user:<id>") and one for what every
family sees ("all") (migration 0012). For the nurse pages: one row a clinic
("location:<id>", for what its lists and board show of its children) and one for the
care team's own accounts ("care") (migration 0013); a nurse's "user:<id>" moves when
their clinics change. The triggers that move them run in the writer's own transaction.
"""

from __future__ import annotations

from django.db import models

EVERYONE = "all"
CARE_TEAM = "care"
LOCATION_PREFIX = "location:"


def user_scope(user_id: int) -> str:
    return f"user:{user_id}"


class PageVersion(models.Model):
    scope = models.CharField(max_length=32, primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.scope} {self.version}"
