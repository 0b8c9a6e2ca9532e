"""Counters PostgreSQL moves on for every change a family's pages show (procedures.page_cache reads them).

One row a guardian's login ("user:<id>") and one for what every family sees ("all"). The
triggers that move them run in the writer's own transaction (migration 0012).
"""

from __future__ import annotations

from django.db import models

EVERYONE = "all"


def user_scope(user_id: int) -> str:
    return f"user:{user_id}"


class PageVersion(models.Model):
    scope = models.CharField(max_length=32, primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.scope} {self.version}"
