"""Names a job spec uses (fields, datasets, its work type) and the error a spec's validators
raise."""

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

FieldName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
DatasetName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
# What a work type's name is made of, and how long it may be (a skill, which a passed
# qualification names after its work type, is as long).
NAME_CHARACTERS = "a-z0-9_.-"
WORK_TYPE_LENGTH = 100
# A job's work type, wherever one is named (a job, a path).
WORK_TYPE_PATTERN = rf"^[a-z0-9][{NAME_CHARACTERS}]{{0,{WORK_TYPE_LENGTH - 1}}}$"


def spec_error(message: str) -> PydanticCustomError:
    # Passed as context so braces in a message (a regex) are not read as placeholders.
    return PydanticCustomError("field_spec", "{message}", {"message": message})


def errors_at(title: str, problems: Sequence[tuple[tuple[int | str, ...], str]]) -> ValidationError:
    """Errors under sub-paths, which a plain ValueError in a model validator cannot name."""
    details = [
        InitErrorDetails(type=spec_error(message), loc=loc, input=None) for loc, message in problems
    ]
    return ValidationError.from_exception_data(title, details)
