"""What the clinical domain tells the apps built on it: the one seam between procedures and delivery.

procedures never imports reminders. It sends these signals, and reminders connects
its receivers at start-up (`reminders.receivers`, from `RemindersConfig.ready`).
Why signals and not a call into reminders: the dependency then runs one way
(portal <- procedures <- reminders), procedures reads as the clinical domain
alone, and everything delivery needs to know is listed here, in one file.
They are sent with `send`, never `send_robust`, inside the sender's transaction:
a receiver that fails rolls the change back, so a change is never saved without
its reminders planned again. The system check `procedures.E001` refuses to start
a portal in which nothing receives `procedure_changed`.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from django.core import checks
from django.dispatch import Signal


class Reason(enum.StrEnum):
    """Why a procedure changed: procedures says what happened, reminders decides what to send."""

    BOOKED = "booked"
    EDITED = "edited"
    RUNNING_LATE = "running_late"
    CANCELLED = "cancelled"
    DONE = "done"
    POLICY = "policy"
    CLINIC = "clinic"
    CHILD = "child"
    GUARDIANS = "guardians"


# The change path settled one procedure (booked, or changed in any way), inside its transaction.
# Arguments: procedure (the fresh row), reason (Reason), moved (bool: what the family must
# do or where they must be changed, or it was just booked), about (datetime | None: the earliest
# moment the change concerns), now (datetime | None).
procedure_changed = Signal()

# A guardian's account needs an invitation link. Arguments: guardian, invited_by (User | None).
invitation_requested = Signal()

# A check-in showed a warning sign. Arguments: report (SymptomReport).
warning_sign_reported = Signal()

# "What will the family be told?", before a change is saved. Arguments: procedure (changed in
# memory, not saved), reason, now. A receiver returns the notice: a `Notice`, or its text alone.
notice_preview = Signal()


@dataclass(frozen=True)
class Notice:
    text: str
    # What it costs to send, in the sender's words ("2 text segments, GSM-7").
    note: str = ""


# Sections another app adds to a nurse page. Arguments: page ("dashboard": location, now,
# pages, the query's page numbers; "procedure": procedure, now). A receiver returns a
# `Section`, or None for a page it adds nothing to.
nurse_sections = Signal()


class Section:
    """A block of a nurse page that another app renders: its template and what that template shows."""

    def __init__(self, template: str, *, newest: dt.datetime | None = None, **context: object) -> None:
        self.template = template
        self.context = context
        # The newest time among what it shows, for the page's "new since you last looked".
        self.newest = newest


def sections(page: str, **objects: object) -> list[Section]:
    """What the apps above add to one nurse page, in the order they were installed."""
    answers = nurse_sections.send(sender=Section, page=page, **objects)
    return [section for _, section in answers if section is not None]


@checks.register()
def _changes_are_received(app_configs: object, **kwargs: object) -> list[checks.CheckMessage]:
    if procedure_changed.has_listeners():
        return []
    return [
        checks.Error(
            "Nothing receives procedures.events.procedure_changed: changes would not re-plan reminders.",
            hint="Install the reminders app (it connects its receivers in RemindersConfig.ready).",
            id="procedures.E001",
        )
    ]
