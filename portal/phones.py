"""Phone numbers: parse what people type, store E.164."""

from __future__ import annotations

import functools

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def _parse(value: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(value, settings.PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("This is not a valid phone number. Include the area code, for example (312) 555-0142."),
            code="invalid_phone",
        )
    return number


def normalize_mobile(value: str) -> str:
    """Return the E.164 form of a number that can receive text messages."""
    number = _parse(value)
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise ValidationError(
            _("This number cannot receive text messages. Please give a mobile (cell) number."),
            code="not_mobile",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_phone(value: str) -> None:
    _parse(value)


# Pages show the same few numbers (a clinic's, a family's) on every row: each is read once per process.
_SHOWN = 4096


def display(value: str) -> str:
    """A friendly national or international form for showing a stored number."""
    return _display(value, settings.PHONE_REGION) if value else ""


@functools.lru_cache(maxsize=_SHOWN)
def _display(value: str, home: str) -> str:
    try:
        number = phonenumbers.parse(value, home)
    except phonenumbers.NumberParseException:
        return value
    region = phonenumbers.region_code_for_number(number)
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if region == home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, fmt)


def e164(value: str) -> str:
    """The number for a tel: link. A stored number that cannot be read is kept to its digits and +."""
    return _e164(value, settings.PHONE_REGION)


@functools.lru_cache(maxsize=_SHOWN)
def _e164(value: str, home: str) -> str:
    try:
        number = phonenumbers.parse(value, home)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return "".join(ch for ch in value if ch.isdigit() or ch == "+")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
