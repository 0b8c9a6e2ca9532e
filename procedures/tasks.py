"""Thin Celery tasks of the clinical side."""

from __future__ import annotations

from celery import shared_task

from . import quality


@shared_task(name="procedures.tasks.count_quality", ignore_result=True, expires=120)
def count_quality() -> None:
    """Count every clinic's quality figures ahead of the nurses, so the page is read, not counted."""
    quality.count_ahead()
