"""Scalar field types that Argo's Go structs accept more loosely than a plain ``str`` or ``int``.

Argo's ``AnyString`` takes a YAML string, number or boolean and keeps its text; Kubernetes'
``IntOrString`` keeps whichever was written. Each is one validator, not a pydantic union, so a
bad value yields a single error at the field's own path instead of one per union member.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainValidator
from pydantic_core import PydanticCustomError


def any_string(value: Any) -> Any:
    """A YAML scalar as Argo's AnyString reads it: ``true`` → ``"true"``, ``3`` → ``"3"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return value  # strings pass; anything else fails the str check with pydantic's message


def _int_or_string(value: Any) -> int | str:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise PydanticCustomError("int_or_string", "expected an integer or a string")


def _number_or_string(value: Any) -> int | float | str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("number_or_string", "expected a number or a string")


AnyString = Annotated[str, BeforeValidator(any_string)]
"""Argo's AnyString: numbers and booleans are accepted and kept as their text."""

IntOrString = Annotated[int | str, PlainValidator(_int_or_string)]
"""Kubernetes' IntOrString: an integer or a string (often a ``{{...}}`` expression)."""

NumberOrString = Annotated[int | float | str, PlainValidator(_number_or_string)]
"""A number or a string, kept as written: resource quantities, backoff factors."""
