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
