"""An allow-list of the addresses a sending system's MLLP connections may come from."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError

from portal.models import AuditAction, AuditEvent, Role
from procedures.feed.models import InboundMessage, MessageStatus, SendingSystem
from procedures.models import Procedure

from . import corpus
from .conftest import msa
from .test_hl7_listener import siu


def test_a_message_from_an_address_not_on_the_list_is_refused_logged_and_audited(epic, engine, caplog):
    epic.allowed_addresses = "10.20.0.7\n10.30.0.0/16"
    epic.save()
    with caplog.at_level(logging.WARNING, logger="procedures.feed.intake"):
        ack = engine.send(siu(corpus.EPIC_S12, control="A1"))
    code, control, reason = msa(ack)
    assert (code, control) == ("AR", "A1")
    assert "came from 127.0.0.1" in reason and "Lakeside Epic" in reason
    assert b"ERR|||199^Other HL7 error^HL70357" in ack
    assert not Procedure.objects.exists()

    message = InboundMessage.objects.get(control_id="A1")
    assert message.status == MessageStatus.REJECTED and message.system == epic and message.peer == "127.0.0.1"
    assert InboundMessage.objects.to_fix().filter(pk=message.pk).exists()  # nurses see refused messages too
    event = AuditEvent.objects.get(action=AuditAction.DENIED)
    assert (event.user_id, event.role, event.ip_address) == (epic.actor_id, Role.SYSTEM, "127.0.0.1")
    assert (event.object_type, event.object_id, event.route) == ("inbound message", message.pk, "feed:hl7v2")
    assert any(r.message == "hl7 sender address not allowed" and r.peer == "127.0.0.1" for r in caplog.records)


def test_a_message_from_an_allowed_network_is_applied(epic, engine):
    epic.allowed_addresses = "10.20.0.7, 127.0.0.0/8"
    epic.save()
    code, _, reason = msa(engine.send(siu(corpus.EPIC_S12, control="A2")))
    assert code == "AA", reason
    assert Procedure.objects.count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.DENIED).exists()


def test_an_empty_list_takes_any_address(epic, engine):
    assert epic.allowed_addresses == ""
    assert msa(engine.send(siu(corpus.EPIC_S12, control="A3")))[0] == "AA"


def test_the_list_belongs_to_its_own_system(epic, engine, clinic):
    # Another system's list does not stop this one's messages.
    other = SendingSystem.objects.create(name="North Cerner", hl7_application="CERNER", allowed_addresses="10.9.9.9")
    other.clinics.add(clinic)
    assert msa(engine.send(siu(corpus.EPIC_S12, control="A4")))[0] == "AA"


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ("10.20.0.7", True),
        ("10.20.0.8", False),
        ("10.30.4.5", True),
        ("::ffff:10.30.4.5", True),  # IPv4 as a dual-stack listener reports it
        ("fd00:1::5", True),
        ("fd00:2::5", False),
        ("fe80::1%eth0", False),
        ("", False),
        ("not-an-address", False),
    ],
)
def test_addresses_and_networks_match_as_ipaddress_reads_them(db, peer, allowed):
    system = SendingSystem(name="x", allowed_addresses="10.20.0.7 10.30.0.0/16\nfd00:1::/64")
    assert system.allows_address(peer) is allowed


def test_a_list_with_a_wrong_entry_is_refused_in_the_admin(db):
    system = SendingSystem(name="Cadence", hl7_application="SCHED", allowed_addresses="10.20.0.7 10.20.0.300/24 epic")
    with pytest.raises(ValidationError) as caught:
        system.full_clean(exclude=["actor"])
    message = " ".join(caught.value.message_dict["allowed_addresses"])
    assert "10.20.0.300/24" in message and "epic" in message and "10.20.0.7," not in message
