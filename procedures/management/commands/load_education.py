from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from procedures import content_loader, models


class Command(BaseCommand):
    help = "Load family education pages from procedures/content/*.json."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(content_loader.BONE_MARROW_FILE))
        parser.add_argument(
            "--replace", action="store_true", help="Overwrite pages that exist (loses edits made in the admin)."
        )

    def handle(self, *args: Any, path: str, replace: bool, **options: Any) -> None:
        with transaction.atomic():
            written = content_loader.load_content(Path(path), models=models, replace=replace)
        self.stdout.write(f"Wrote {written} page(s).")
