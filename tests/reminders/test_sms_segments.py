"""Segments counted as carriers bill them, and text written in GSM-7 where it can be."""

from __future__ import annotations

import pytest

from reminders import sms


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", sms.GSM7, 0),
        ("a" * 160, sms.GSM7, 1),
        ("a" * 161, sms.GSM7, 2),
        ("a" * 306, sms.GSM7, 2),
        ("a" * 307, sms.GSM7, 3),
        # The extension table counts twice: 80 euro signs are 160 septets.
        ("€" * 80, sms.GSM7, 1),
        ("€" * 81, sms.GSM7, 2),
        ("[" + "a" * 159, sms.GSM7, 2),
        # An escape pair is never split: 152 septets, then "{" would straddle the part.
        ("a" * 152 + "{" + "a" * 10, sms.GSM7, 2),
        ("a" * 152 + "{" + "a" * 152, sms.GSM7, 3),
        # ñ, é, ü, ¿ and ¡ are GSM-7; á is not.
        ("¿Mañana? ¡Sí! é ü", sms.UCS2, 1),
        ("¿Mañana? ¡Si! é ü", sms.GSM7, 1),
        ("á" * 70, sms.UCS2, 1),
        ("á" * 71, sms.UCS2, 2),
        ("á" * 134, sms.UCS2, 2),
        ("á" * 135, sms.UCS2, 3),
        # An emoji is a surrogate pair: two units, never split.
        ("😀" * 35, sms.UCS2, 1),
        ("😀" * 36, sms.UCS2, 2),
        ("a" * 66 + "😀" + "a" * 4, sms.UCS2, 2),
        # 134 units would be two parts, but the pair cannot straddle: 66, 67, 1.
        ("a" * 66 + "😀" + "a" * 66, sms.UCS2, 3),
    ],
)
def test_segments_are_counted_the_way_carriers_count_them(text: str, encoding: str, segments: int) -> None:
    counted = sms.count(text)
    assert (counted.encoding, counted.segments) == (encoding, segments)


def test_an_escape_pair_that_would_straddle_a_part_moves_to_the_next_part() -> None:
    # 153 septets fit exactly when the pair ends the part; one more starts a part.
    assert sms.segments("a" * 151 + "{" + "a" * 153) == 2
    assert sms.segments("a" * 152 + "{" + "a" * 152) == 3


def test_the_portals_punctuation_is_written_in_gsm7() -> None:
    text = "St. Mary’s Children’s – Oncology — “Day Unit”… 9:30\u202fAM\u00a0today\u200b"
    plain = sms.to_gsm(text)
    assert plain == "St. Mary's Children's - Oncology - \"Day Unit\"... 9:30 AM today"
    assert sms.is_gsm(plain)


def test_accents_gsm7_lacks_are_dropped_and_the_ones_it_has_are_kept() -> None:
    assert sms.to_gsm("Clínica Pediátrica Niño Jesús, José Müller ¿Sí?") == (
        "Clinica Pediatrica Niño Jesus, José Müller ¿Si?"
    )


def test_a_character_with_no_gsm7_equivalent_is_kept_rather_than_lost() -> None:
    assert sms.to_gsm("王 – ok") == "王 - ok"
    assert sms.count(sms.to_gsm("王 – ok")).encoding == sms.UCS2


def test_spanish_keeps_its_accents_when_they_fit_the_budget() -> None:
    short = "Mañana: sí, a las 7:30 — Clínica."
    assert sms.for_language(short, "es") == "Mañana: sí, a las 7:30 - Clínica."


def test_spanish_drops_the_missing_accents_only_when_accented_text_is_over_budget() -> None:
    long = "Información: " + "día " * 60
    assert sms.count(long).segments > sms.budget("es")
    sent = sms.for_language(long, "es")
    assert sms.is_gsm(sent)
    assert sent.startswith("Informacion: dia dia")
    assert sms.count(sent).segments <= sms.budget("es")


def test_english_is_always_gsm7_once_the_punctuation_is_replaced() -> None:
    assert sms.for_language("Children’s – Oncology", "en") == "Children's - Oncology"
