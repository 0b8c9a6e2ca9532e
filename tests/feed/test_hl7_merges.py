"""ADT on the same listener: A08 updates a child; A40/A34 merges and SIU with a prior id find the same child."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from procedures.feed.models import ExternalPatient, InboundMessage, MessageStatus
from procedures.models import Patient, Procedure

from . import corpus
from .conftest import msa
from .test_hl7_listener import siu


def _adt(template: str, **values: str) -> str:
    return corpus.fill(template, **{"sent": corpus.ts(timezone.now()), "first": "Mateo", "prior": "", **values})


def test_a08_updates_the_child_and_an_unknown_child_changes_nothing(epic, engine):
    assert msa(engine.send(siu(corpus.EPIC_S12, control="S1")))[0] == "AA"
    code, _, reason = msa(engine.send(_adt(corpus.EPIC_A08, control="U1", mrn="E12345", first="Matías")))
    assert code == "AA", reason
    assert Patient.objects.get().first_name == "Matías"
    # Hospitals send A08 for every patient: one never booked here is not an error.
    assert msa(engine.send(_adt(corpus.EPIC_A08, control="U2", mrn="NOT-HERE")))[0] == "AA"
    assert InboundMessage.objects.get(control_id="U2").status == MessageStatus.UNCHANGED
    assert Patient.objects.count() == 1


def test_a40_and_a34_merges_keep_one_child_and_a_new_booking_finds_it(epic, engine):
    assert msa(engine.send(siu(corpus.EPIC_S12, control="S1", mrn="OLD1", filler="A1")))[0] == "AA"
    code, _, reason = msa(engine.send(_adt(corpus.EPIC_A40, control="M1", mrn="NEW1", prior="OLD1")))
    assert code == "AA", reason
    child = Patient.objects.get()
    assert child.mrn == "NEW1"
    assert set(ExternalPatient.objects.values_list("mrn", flat=True)) == {"OLD1", "NEW1"}
    # A later booking under the new MRN, and a late one under the old, find the same child.
    assert msa(engine.send(siu(corpus.EPIC_S12, control="S2", mrn="NEW1", filler="A2")))[0] == "AA"
    assert msa(engine.send(siu(corpus.EPIC_S12, control="S3", mrn="OLD1", filler="A3")))[0] == "AA"
    assert Patient.objects.count() == 1 and Procedure.objects.filter(patient=child).count() == 3

    code, _, reason = msa(engine.send(_adt(corpus.EPIC_A34, control="M2", mrn="NEWER", prior="NEW1")))
    assert code == "AA", reason
    assert Patient.objects.get().mrn == "NEWER"


def test_an_siu_with_the_prior_id_beside_the_new_mrn_is_the_same_child(epic, engine):
    assert msa(engine.send(siu(corpus.EPIC_S12, control="S1", mrn="OLD2", filler="A1")))[0] == "AA"
    # The existing appointment, now sent under the new MRN with the old one repeated in PID-3.
    text = siu(corpus.EPIC_S14, control="S2", mrn="NEW2", filler="A1", sent=timezone.now() + dt.timedelta(seconds=1))
    text = text.replace("NEW2^^^LAKESIDE^MR~", "NEW2^^^LAKESIDE^MR~OLD2^^^LAKESIDE^PI~", 1)
    code, _, reason = msa(engine.send(text))
    assert code == "AA", reason
    assert "MRN OLD2 is now NEW2" in InboundMessage.objects.get(control_id="S2").reason
    assert Patient.objects.get().mrn == "NEW2" and Procedure.objects.count() == 1


def test_a_merge_of_two_children_both_here_is_left_to_a_nurse(epic, engine):
    assert msa(engine.send(siu(corpus.EPIC_S12, control="S1", mrn="KID1", filler="A1")))[0] == "AA"
    other = siu(corpus.EPIC_S12, control="S2", mrn="KID2", filler="A2").replace("Rivera^Mateo", "Rivera^Sofia", 1)
    assert msa(engine.send(other))[0] == "AA"
    ack = engine.send(_adt(corpus.EPIC_A40, control="M1", mrn="KID2", prior="KID1"))
    assert msa(ack)[0] == "AE" and b"205^Duplicate key identifier" in ack
    assert Patient.objects.count() == 2


def test_other_adt_events_are_refused_as_unsupported(epic, engine):
    ack = engine.send(_adt(corpus.EPIC_A08, control="X1", mrn="E1").replace("ADT^A08^ADT_A01", "ADT^A01", 1))
    assert msa(ack)[0] == "AR" and b"201^Unsupported event code" in ack
