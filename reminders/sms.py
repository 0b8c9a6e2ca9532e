"""Text messages as carriers count them: GSM-7 where the words allow, and segments.

A carrier bills, and a long code sends (about one a second), by segment. A text
that fits the GSM 03.38 alphabet is sent in 7-bit septets: 160 to a single
text, 153 to each part of a longer one (the concatenation header takes the
rest); a character of the extension table (``{ } [ ] ~ \\ | ^ €``) is an escape
plus a septet, so it counts twice and is never split across two parts. One
character outside the alphabet (an en dash in a clinic's name, a curly quote)
sends the whole text as UCS-2: 70 UTF-16 code units to a single text, 67 to a
part, and a character beyond the Basic Multilingual Plane (an emoji) is a
surrogate pair, two units, never split either.

`to_gsm()` writes the portal's own punctuation (dashes, curly quotes,
ellipses, no-break and thin spaces) and any accent the alphabet lacks in their
GSM-7 equivalents, so an en dash in a clinic's name does not quadruple
the cost of every text it sends.

Spanish. GSM-7 has ñ, Ñ, é, É, ü, Ü, ¿ and ¡, but not á, í, ó, ú: every Spanish
sentence has one, so accented Spanish is UCS-2 (67 a part) and unaccented
Spanish GSM-7 (153 a part), 2.3 times more words in the same segments.
Measured both ways with the longest real values (scripts/text_budget.py):
with every accent kept, each Spanish text takes 5 to 7 segments; written in
GSM-7, 2 or 3. Three segments cannot hold accented Spanish that still says
what to do, by when, where, the phone and the link.
Accents matter to meaning in a few words ("sí"/"si",
"está"/"esta"), and a family reads the text best as it is written, so
`for_language()` keeps every accent whenever the accented text fits the
language's budget, and only otherwise drops the accents GSM-7 lacks (keeping
ñ, é and ¿¡, which it has). A text is either fully correct Spanish, or
unaccented Spanish as families commonly write it in texts; never a text cut
short, and never over budget.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from django.utils.translation import ngettext

GSM7, UCS2 = "GSM-7", "UCS-2"

# Per text, the most segments a family's text may take, by language.
BUDGET = {"en": 2, "es": 3}
DEFAULT_BUDGET = 2

_SINGLE = {GSM7: 160, UCS2: 70}
_PART = {GSM7: 153, UCS2: 67}

# The portal's typography and what it is on a phone that only has GSM-7.
_PUNCTUATION = {
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": "-",
    "\u00a0": " ",  # no-break space
    "\u202f": " ",  # narrow no-break space (some locales' "9:30 AM")
    "\u2009": " ",  # thin space
    "\u2007": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\t": " ",
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
    "\u00ad": "",  # soft hyphen
    "\r": "",
    "\x1b": "",
}


@functools.cache
def _septets(char: str) -> int:
    """1 or 2 (the extension table) for a GSM-7 character, 0 for one it lacks."""
    if char == "\x1b":
        return 0
    try:
        return len(char.encode("gsm03.38"))
    except UnicodeError:
        return 0


def is_gsm(text: str) -> bool:
    return all(_septets(char) for char in text)


@functools.cache
def _plain(char: str) -> str:
    if _septets(char):
        return char
    if char in _PUNCTUATION:
        return _PUNCTUATION[char]
    # "á" is "a" and a combining accent: keep what the alphabet has.
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(part for part in decomposed if not unicodedata.combining(part))
    if base and is_gsm(base):
        return base
    return char  # nothing close in GSM-7: the text stays UCS-2 rather than lose the character


def to_gsm(text: str) -> str:
    """The text in GSM-7 where an equivalent exists: punctuation, spaces and accents the alphabet lacks."""
    return "".join(_plain(char) for char in text)


def typography(text: str) -> str:
    """Only the punctuation and spaces replaced; every letter, accents included, kept as it is."""
    return "".join(_PUNCTUATION.get(char, char) if not _septets(char) else char for char in text)


@dataclass(frozen=True)
class Count:
    encoding: str
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    characters: int


def _units(char: str, encoding: str) -> int:
    if encoding == GSM7:
        return _septets(char)
    return 2 if ord(char) > 0xFFFF else 1


def count(text: str) -> Count:
    """How carriers count `text`: its encoding, its units and the segments it is sent in."""
    encoding = GSM7 if is_gsm(text) else UCS2
    sizes = [_units(char, encoding) for char in text]
    total = sum(sizes)
    if total <= _SINGLE[encoding]:
        return Count(encoding, total, 1 if text else 0, len(text))
    # Parts of a long text: an escape pair or a surrogate pair never straddles two parts.
    part, segments, used = _PART[encoding], 1, 0
    for size in sizes:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return Count(encoding, total, segments, len(text))


def segments(text: str) -> int:
    return count(text).segments


def budget(language: str | None) -> int:
    return BUDGET.get((language or "en").split("-")[0], DEFAULT_BUDGET)


def for_language(text: str, language: str | None) -> str:
    """The text as sent: accents kept when it fits the language's budget, else GSM-7 throughout."""
    kept = typography(text)
    if is_gsm(kept) or count(kept).segments <= budget(language):
        return kept
    return to_gsm(text)


def describe(text: str) -> str:
    """What a text costs, for the care team: "1 text, 2 segments (GSM-7, 281 characters)"."""
    counted = count(text)
    return ngettext(
        "Sent as %(segments)s segment (%(encoding)s, %(characters)s characters).",
        "Sent as %(segments)s segments (%(encoding)s, %(characters)s characters).",
        counted.segments,
    ) % {"segments": counted.segments, "encoding": counted.encoding, "characters": counted.characters}
