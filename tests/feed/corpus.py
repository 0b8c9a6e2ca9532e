"""SIU messages as different interface engines send them.

Times are filled in at test time ({start}, {sent}: HL7 TS values), since a
booking must lie in the future. Each engine keeps its own habits:

- Epic Bridges through Mirth: \\r segment ends, offsets on every TS, PID-3 repeating
  (MRN and a national id), AIS-4 start, NK1 with a mobile and an email.
- Cerner through Rhapsody: \\n segment ends (a Windows-edited channel), local times
  without an offset, the start only in SCH-11.4 (v2.3 style), no AIL (one clinic).
- Meditech through Cloverleaf: \\r\\n segment ends, 8859/1 bytes (José) declared in
  MSH-18, PV1 and AIP present, AIG absent.
"""

from __future__ import annotations

import datetime as dt

EPIC_S12 = (
    "MSH|^~\\&|EPIC|LAKESIDE|MARROW|READY|{sent}||SIU^S12^SIU_S12|{control}|P|2.5.1\r"
    "SCH|PL{filler}^EPIC|{filler}^EPIC||||ROUTINE^Routine|BMA^Bone marrow||60|min|"
    "^^60^{start}^^R\r"
    "PID|1||{mrn}^^^LAKESIDE^MR~123-45-6789^^^SSA^SS||Rivera^Mateo^J||20170612|M|||"
    "1 Oak St^^Chicago^IL^60601||^PRN^PH^^1^312^5550100||SPA^Spanish^HL70296\r"
    "NK1|1|Rivera^Ana|MTH^Mother^HL70063||^PRN^CP^^1^312^5550142~^NET^Internet^ana.rivera@example.org\r"
    "NK1|2|Rivera^Luis|FTH^Father^HL70063||^PRN^PH^^1^312^5550143\r"
    "PV1|1|O|ONC^^^LAKESIDE\r"
    "RGS|1|A\r"
    "AIS|1|A|BMAB-GA^Bone marrow aspiration and biopsy, general anesthesia^LOCAL|{start}|0|min|60|min\r"
    "AIL|1|A|ONC-PROC^^^LAKESIDE^^^^^Day Unit|||{start}|||60|min\r"
)

EPIC_S14 = EPIC_S12.replace("SIU^S12^SIU_S12", "SIU^S14^SIU_S14")
EPIC_S13 = EPIC_S12.replace("SIU^S12^SIU_S12", "SIU^S13^SIU_S13")
EPIC_S15 = (
    "MSH|^~\\&|EPIC|LAKESIDE|MARROW|READY|{sent}||SIU^S15^SIU_S15|{control}|P|2.5.1\r"
    "SCH|PL{filler}^EPIC|{filler}^EPIC||||ROUTINE^Routine|BMA^Bone marrow||60|min|||||||||||||||CANCELLED\r"
    "PID|1||{mrn}^^^LAKESIDE^MR||Rivera^Mateo^J||20170612|M\r"
    "RGS|1|D\r"
    "AIS|1|D|BMAB-GA^Bone marrow aspiration and biopsy^LOCAL|{start}\r"
)
EPIC_S17 = EPIC_S15.replace("SIU^S15^SIU_S15", "SIU^S17^SIU_S17")
EPIC_S26 = EPIC_S15.replace("SIU^S15^SIU_S15", "SIU^S26^SIU_S26")

CERNER_S12 = (
    "MSH|^~\\&|CERNER|NORTH|MARROW|READY|{sent_local}||SIU^S12|{control}|P|2.3\n"
    "SCH||{filler}|||||BIOPSY||||^^45^{start_local}\n"
    "PID|||{mrn}||Okafor^Chidi||20150102|M\n"
    "NK1|1|Okafor^Grace|MOTHER||^NET^Internet^grace.okafor@example.org\n"
    "RGS|1\n"
    "AIS|1||BX-LOC^Bone marrow biopsy, local\n"
)

MEDITECH_S12 = (
    "MSH|^~\\&|MEDITECH|SOUTH|MARROW|READY|{sent}||SIU^S12^SIU_S12|{control}|P|2.4|||AL|NE||8859/1\r\n"
    "SCH||{filler}||||||||||^^30^{start}\r\n"
    "PID|1||{mrn}^^^SOUTH^MR||Garc\xeda^Jos\xe9||20190930|M|||||||es\r\n"
    "NK1|1|Garc\xeda^Mar\xeda|MTH^Madre||^PRN^CP^^1^773^5550111~^NET^X.400^maria.garcia@example.org\r\n"
    "PV1|1|O\r\n"
    "RGS|1|A\r\n"
    "AIS|1|A|BMA-SED^Aspiration, sedation|{start}\r\n"
    "AIP|1|A|1234^Smith^Jane^^^Dr\r\n"
    "AIL|1|A|ONC-PROC|||{start}\r\n"
)


def ts(at: dt.datetime) -> str:
    """An HL7 TS with its UTC offset."""
    return at.strftime("%Y%m%d%H%M%S%z")


def ts_local(at: dt.datetime, tz: dt.tzinfo) -> str:
    """An HL7 TS in the sender's local time, without an offset."""
    return at.astimezone(tz).strftime("%Y%m%d%H%M")


def fill(template: str, **values: object) -> str:
    return template.format(**values)


# --- Engines as they really write SIU -----------------------------------------------------
# Our own messages, written in the shapes of published samples; only our codes, names and
# times are ours. {sent_min}/{start_min}: HL7 TS to the minute, local time, no offset.

# athenahealth (athenaNet), after the sample SIU^S12 "501.hl7" kept as test data in a public
# HL7-to-JSON example repository: v2.2, MSH-4 "id^practice", MSH-7 to the minute, MSH-11 T
# from athena's preview environment, SCH-1 = SCH-2, the service only in SCH-7 (free text) and
# SCH-8 (code^text), start in SCH-11.4, no AIS and no NK1, PID-13 home / PID-14 work phone,
# AIG and AIL carrying the start. PID-13 here also carries the family's email (XTN NET^Internet).
ATHENA_S12 = (
    "MSH|^~\\&|ATHENANET|235^MARROWPEDS|MARROW||{sent_min}||SIU^S12|{control}|{processing}|2.2\r"
    "SCH|{placer}|{placer}||||bone marrow|bone marrow|{service}^bone marrow with sedation|45|minutes|"
    "^^^{start_min}|||||frontdesk\r"
    "PID||{mrn}|{mrn}||Nguyen^Linh^||20160304|F|||12 Elm St^^Springfield^IL^62701||"
    "(312)555-0177~^NET^Internet^{email}|(312)555-0100||S\r"
    "PV1|||^^^Day Unit||||22^drsmith\r"
    "RGS|||\r"
    "AIG|||drsmith|||||{start_min}|||45|minutes\r"
    "AIL|||ONC-PROC^Day Unit|||{start_min}|||45|minutes\r"
)

# Corepoint (Lyniate) "HL7 SIU message" page's SIU^S14: v2.3, SCH-1 (placer) only, SCH-6 a
# bare event reason, the service in SCH-8 (appointment type), duration in SCH-9/10, the start
# in SCH-11.4 to the minute, contact names in SCH-16/20 and the filler status in SCH-25.
COREPOINT_SIU = (
    "MSH|^~\\&|GPMS|CTX||MARROW|{sent_min}||SIU^{trigger}|{control}|P|2.3||||||||\r"
    "SCH|{placer}|||||58||BMAB-GA^BONE MARROW ASP BX GA|60|MIN|^^^{start_min}"
    "|||||JOHN||||VALERIE|||||{status}|\r"
    "PID|1||{mrn}|0|PATEL^ARJUN^||20180111|M|||1762 15TH ST^^CHICAGO^IL^60601||(773)555-0190^PRN^PH~"
    "^NET^Internet^{email}\r"
    "RGS|1\r"
    "AIL|1||ONC-PROC|||{start_min}\r"
)

# Allscripts (Ntierprise -> Healthmatics EHR), after a public parser's SIU^S12 example: v2.3,
# SCH-1 placer and SCH-2 filler, SCH-6/7/8 codes (CSI), SCH-11 ^^duration^start^end, SCH-25
# "Scheduled^^CSI"; PID-13 repeating home phone, a CP mobile and an X.400 email; no NK1;
# RGS/AIG/AIL/AIP with the start on AIP-6.
ALLSCRIPTS_S12 = (
    "MSH|^~\\&|Ntierprise|Ntierprise Clinic|Healthmatics EHR|Healthmatics Clinic|{sent}||SIU^S12|{control}|P|2.3"
    "|||NE|NE\r"
    "SCH|{placer}|{filler}|||{placer}|BMA15^BONE MARROW-15^CSI^N|BONE MARROW^BONE MARROW -|BMA-SED|15|m|"
    "^^15^{start}|||||mdrx^Byrne^Misty||||mdrx^Byrne^Misty|||||Scheduled^^CSI\r"
    "PID|1||{mrn}||Bond^Jamie^^||20150920|M|||7 Soho Lane^^Cary^NC^27511||"
    "(919)555-0107^^^^^919^5550107~(919)555-0177^^CP^^^919^5550177~^NET^X.400^{email}|"
    "(919)555-0199^^^^^919^5550199||M||{mrn}\r"
    "PV1|1|R|||||MRYAN^Ryan^Mark\r"
    "RGS|1|A\r"
    "AIG|1||PULLEN^Pullen, Jeri|P^^CSI\r"
    "AIL|1||ONC-PROC^^^MainOffi^^^^^Day Unit|^Day Unit^CSI\r"
    "AIP|1||JPULLEN1^Pullen^Jeri|D^Pullen, Jeri||{start}|||15|m^Minutes\r"
)

# Epic Cadence outgoing scheduling interface (the technical specification's S12 format
# example, open.epic.com): v2.3, SCH-1 "1", SCH-2 the appointment id, the start only in
# SCH-11.4, NTE after SCH, PID-13 a bare phone number and no NK1, RGS-3 the department, AIS-3
# code^name with no start, AIG-8 and AIP-6 with the start. Nobody here can be invited.
# SCH-25 is Cadence's own status number ("1^SCH"), not a Table 0278 name: the site maps its
# numbers on the sending system (Epic's appointment status categories as this site sends them).
CADENCE_STATUS_CODES = {"1": "Booked", "2": "Complete", "3": "Cancelled", "4": "Noshow", "6": "Arrived"}
CADENCE_S12 = (
    "MSH|^~\\&|SCHED|LAKESIDE|MARROW|READY|{sent}||SIU^{trigger}|{control}|P|2.3||\r"
    "SCH|1|{filler}|||||||30|MIN|^^^{start}|589^LEE^STEVEN^^^^|(608)555-9000|5301 TOKAY BLVD^^MADISON^^53719^"
    "|||||||||||{cadence_status}^SCH\r"
    "NTE|1||BONE MARROW\r"
    "PID|||{mrn}||JOHNSON^MIA^^^^||20170324|F|||123 MAIN ST^^PRIOR LAKE^MN^55372^||608-555-9001||||||||||||||||N\r"
    "PV1||O|IM||||||||||||||||{filler}\r"
    "RGS|1||1^ONCOLOGY\r"
    "AIS|1||BMAB-GA^BONE MARROW ASP BX GA\r"
    "AIG|1||399^PROCEDURE ROOM^^^^^|2^RESOURCE||||{start}|30|MIN|30|MIN\r"
    "AIP|1||400^BEST^TINA^^^^|1^MD||{start}|0|MIN|15|MIN\r"
)

# v2.7+ engines (HL7 v2.7 moved the patient's own telecoms to PID-40; PID-13 is withdrawn):
# PID-40 repeating XTN with a use code and an email; the service in two AIS segments, the
# first an anaesthesia resource we do not map.
V27_S12 = (
    "MSH|^~\\&|EPIC|LAKESIDE|MARROW|READY|{sent}||SIU^S12^SIU_S12|{control}|P|2.7\r"
    "SCH||{filler}" + "|" * 23 + "Booked\r"
    "TQ1|1||||||{start}\r"
    "PID|1||{mrn}^^^LAKESIDE^MR||Hughes^Ava||20140707|F" + "|" * 32 + "^PRN^CP^^1^312^5550160~^NET^Internet^{email}\r"
    "RGS|1|A\r"
    "AIS|1|A|ANES^Anaesthesia^LOCAL|{start}\r"
    "AIS|2|A|BMAB-GA^Bone marrow aspiration and biopsy^LOCAL|{start}\r"
    "AIL|1|A|ONC-PROC|||{start}\r"
)


def ts_minute(at: dt.datetime, tz: dt.tzinfo) -> str:
    """An HL7 TS to the minute, in the sender's local time (athena, Corepoint)."""
    return at.astimezone(tz).strftime("%Y%m%d%H%M")


# --- ADT from the same engines (HL7 v2.5.1 chapter 3 message examples' shapes) -----------
# A08 (update patient information): EVN, PID, NK1 and PV1, sent for every registration change.
EPIC_A08 = (
    "MSH|^~\\&|EPIC|LAKESIDE|MARROW|READY|{sent}||ADT^A08^ADT_A01|{control}|P|2.5.1\r"
    "EVN|A08|{sent}\r"
    "PID|1||{mrn}^^^LAKESIDE^MR||Rivera^{first}^J||20170612|M|||1 Oak St^^Chicago^IL^60601||"
    "^PRN^PH^^1^312^5550100||SPA^Spanish^HL70296\r"
    "NK1|1|Rivera^Ana|MTH^Mother^HL70063||^PRN^CP^^1^312^5550142~^NET^Internet^ana.rivera@example.org\r"
    "PV1|1|O|ONC^^^LAKESIDE\r"
)
# A40 (merge patient - patient identifier list): PID carries the surviving MRN, MRG-1 the prior one.
EPIC_A40 = (
    "MSH|^~\\&|EPIC|LAKESIDE|MARROW|READY|{sent}||ADT^A40^ADT_A39|{control}|P|2.5.1\r"
    "EVN|A40|{sent}\r"
    "PID|1||{mrn}^^^LAKESIDE^MR||Rivera^Mateo^J||20170612|M\r"
    "MRG|{prior}^^^LAKESIDE^MR\r"
)
# A34 (merge patient information - patient id only), v2.3 as older engines still send it.
EPIC_A34 = EPIC_A40.replace("ADT^A40^ADT_A39", "ADT^A34").replace("EVN|A40|", "EVN|A34|")
