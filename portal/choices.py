"""Choice labels read one at a time."""

from __future__ import annotations

from typing import Any

from django.db.models import Field
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


class ChoiceLabels:
    """Models' `get_FOO_display()` translating only the label it returns.

    Django's own makes every (value, label) pair hashable on each call, and hashing a lazy
    label translates it: a field with eight choices cost eight translations a call. Here the
    labels are put in a dict once per field, keyed by value, and only the one shown is translated.
    Same result, including a value that is not one of the choices (shown as it is).
    """

    def _get_FIELD_display(self, field: Field) -> Any:
        labels = field.__dict__.get("_labels_by_value")
        if labels is None:
            labels = {make_hashable(value): label for value, label in field.flatchoices}
            field.__dict__["_labels_by_value"] = labels
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)
