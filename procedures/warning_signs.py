"""The warning signs families are told to call about, as shipped.

Fever or chills; bleeding that continues; redness, swelling, oozing or a bad
smell at the site. Admins can edit, add or switch rules off afterwards.
"""

from __future__ import annotations

from typing import Any

DEFAULT_RULES = [
    # code, field, active, English, Spanish
    ("fever", "temperature", True, "A fever", "Fiebre"),
    ("chills", "chills", True, "Chills or shivering", "Escalofríos"),
    ("bleeding", "bleeding", True, "Bleeding that does not stop", "Sangrado que no para"),
    ("redness", "redness", True, "Redness where the needle went in", "Enrojecimiento donde entró la aguja"),
    ("swelling", "swelling", True, "Swelling where the needle went in", "Hinchazón donde entró la aguja"),
    ("oozing", "oozing", True, "Oozing where the needle went in", "Supuración donde entró la aguja"),
    ("bad-smell", "bad_smell", True, "A bad smell where the needle went in", "Mal olor donde entró la aguja"),
    # Worse pain alone is worth knowing but not an alarm; an admin can switch it on.
    ("pain-worse", "pain_worse", False, "Pain that is getting worse", "Dolor que empeora"),
]


def add_default_rules(rule_model: Any) -> None:
    """Create the shipped rules that are missing; never touch ones an admin has edited."""
    for code, field, active, label_en, label_es in DEFAULT_RULES:
        rule_model.objects.get_or_create(
            code=code, defaults={"field": field, "is_active": active, "label_en": label_en, "label_es": label_es}
        )
