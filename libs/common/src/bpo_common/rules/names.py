"""Names a job spec uses (fields, datasets, its work type) and the error a spec's validators
raise."""

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

FieldName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
DatasetName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
# A job's work type, wherever one is named (a job, a path): at most 100 characters.
WORK_TYPE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,99}$"


def spec_error(message: str) -> PydanticCustomError:
    # Passed as context so braces in a message (a regex) are not read as placeholders.
    return PydanticCustomError("field_spec", "{message}", {"message": message})


def errors_at(title: str, problems: Sequence[tuple[tuple[int | str, ...], str]]) -> ValidationError:
    """Errors under sub-paths, which a plain ValueError in a model validator cannot name."""
    details = [
        InitErrorDetails(type=spec_error(message), loc=loc, input=None) for loc, message in problems
    ]
    return ValidationError.from_exception_data(title, details)
