"""Validates action-server responses against a schema checked once, not on every call.

Rasa 3.6's ``RemoteAction`` checks every action-server response with ``jsonschema.validate``,
which first validates the (constant) response schema itself against the JSON Schema
meta-schema. That check is most of the cost of a custom action inside the one-process Rasa
server: measured ~60 ms of CPU per call, against ~2 ms for validating the response alone
(docs/performance.md, "Where a policy turn's time goes"). Every policy question and every new
conversation (``action_session_start``) calls a custom action.

``install()`` swaps in a validator whose schema was checked once. A response that passes is
accepted as before; one that fails goes through Rasa's own method, so the error raised (the
best match and Rasa's message) is unchanged.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

_rasa_validate = RemoteAction._validate_action_result


@cache
def response_validator(action_class: type[RemoteAction]) -> Validator:
    schema = action_class.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    if response_validator(type(self)).is_valid(result):
        return True
    return _rasa_validate(self, result)


def install() -> None:
    """Idempotent: the Rasa server imports the custom components that call it once per model."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
