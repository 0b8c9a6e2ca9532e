"""The clinical domain's models, one module a topic: care (clinics, children, guardians,
procedures), fasting_policy, education, readiness, aftercare; base has what they share."""

from .aftercare import (
    Pain,
    RedFlagRule,
    SymptomField,
    SymptomReport,
    SymptomReportQuerySet,
    TemperatureUnit,
)
from .base import (
    Bilingual,
    scoped,
    validate_time_zone,
)
from .care import (
    ACTIVE_STATUSES,
    ConsentVia,
    Feeding,
    Guardian,
    GuardianQuerySet,
    Location,
    LocationQuerySet,
    NonexistentTime,
    Patient,
    PatientQuerySet,
    Procedure,
    ProcedureKind,
    ProcedureQuerySet,
    ProcedureStatus,
    Sedation,
)
from .education import (
    EducationPage,
    EducationStep,
    PageView,
    ProcedureType,
)
from .fasting_policy import (
    FastingAnchor,
    FastingPolicy,
)
from .outcome import (
    DayOutcome,
    OutcomeKind,
    OutcomeReason,
)
from .page_version import PageVersion
from .readiness import (
    PreparedQuestion,
    Readiness,
)

__all__ = [
    "ACTIVE_STATUSES",
    "Bilingual",
    "ConsentVia",
    "DayOutcome",
    "EducationPage",
    "EducationStep",
    "FastingAnchor",
    "FastingPolicy",
    "Feeding",
    "Guardian",
    "GuardianQuerySet",
    "Location",
    "LocationQuerySet",
    "NonexistentTime",
    "OutcomeKind",
    "OutcomeReason",
    "PageVersion",
    "PageView",
    "Pain",
    "Patient",
    "PatientQuerySet",
    "PreparedQuestion",
    "Procedure",
    "ProcedureKind",
    "ProcedureQuerySet",
    "ProcedureStatus",
    "ProcedureType",
    "Readiness",
    "RedFlagRule",
    "Sedation",
    "SymptomField",
    "SymptomReport",
    "SymptomReportQuerySet",
    "TemperatureUnit",
    "scoped",
    "validate_time_zone",
]
