"""Event contracts, one module per publishing service, and the vocabulary they share.
Importing this registers every event."""

from bpo_common.contracts import (
    billing,
    erasure,
    intake,
    messaging,
    reasons,
    sealed,
    validation,
    vocabulary,
)
from bpo_common.contracts.sealed import Sealed
from bpo_common.contracts.vocabulary import (
    MACHINE_CONTRACTOR_ID,
    ExceptionAction,
    QcMode,
    QcPolicy,
    TaskKind,
    TaskOutcome,
)
from bpo_common.rules import FieldSpec, JobSpec

__all__ = [
    "MACHINE_CONTRACTOR_ID",
    "ExceptionAction",
    "FieldSpec",
    "JobSpec",
    "QcMode",
    "QcPolicy",
    "Sealed",
    "TaskKind",
    "TaskOutcome",
    "billing",
    "erasure",
    "intake",
    "messaging",
    "reasons",
    "sealed",
    "validation",
    "vocabulary",
]
