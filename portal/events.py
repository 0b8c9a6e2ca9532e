"""What accounts tell the apps built on them (see procedures/events.py for why signals).

portal imports neither procedures nor reminders; reminders connects its
receivers at start-up and sends what is asked for on its durable path.
"""

from __future__ import annotations

from django.db import models
from django.dispatch import Signal


class AccountMessage(models.TextChoices):
    """Messages about an account itself; reminders.models.Kind has a kind of the same value for each."""

    PASSWORD_RESET = "password_reset"  # noqa: S105 - the name of a message, not a secret
    PASSWORD_RESET_CODE = "password_reset_code"  # noqa: S105
    PASSWORD_CHANGED = "password_changed"  # noqa: S105


# An account needs a message. Arguments: message (AccountMessage), user, address (email or
# E.164 number), by_text (bool). Sent in the caller's transaction: it goes once that commits.
account_message = Signal()

# Where a signed-in person starts. Arguments: user. A receiver returns (priority, url) or None;
# the highest priority wins (a question that must be asked first outranks the usual home page).
landing = Signal()

# What /healthz reports beside the database and Redis. No arguments; a receiver returns
# {name: "ok" or what is wrong}, read from the database only (the check must never hang).
health = Signal()
