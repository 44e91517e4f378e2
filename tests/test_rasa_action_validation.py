"""Rasa checks action-server replies without re-checking their schema on every call
(rasa_components/action_response_validation.py), and still rejects a malformed reply.

Runs in the Rasa environment (.venv-rasa), as the Rasa server does.
"""

from __future__ import annotations

import json
import subprocess

from bot.settings import PROJECT_ROOT

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = """
import json, sys
from unittest import mock
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa_components.policy_router import PolicyRouter

# What the Rasa server does when it loads the model.
PolicyRouter.create({"dictionary_path": sys.argv[1]}, None, None, None)

action = RemoteAction("action_answer_policy", None)
schema_class = validator_for(RemoteAction.action_response_format_spec())
valid = {
    "events": [{"event": "slot", "name": "service_id", "value": "juzhuzheng"}],
    "responses": [{"text": "居住证……", "buttons": [{"title": "是", "payload": "/affirm"}]}],
}
malformed = {"events": [{"event": "slot", "value": 1}], "responses": []}
with mock.patch.object(schema_class, "check_schema", wraps=schema_class.check_schema) as check:
    accepted = all(action._validate_action_result(valid) for _ in range(20))
try:
    action._validate_action_result(malformed)
    error = None
except ValidationError as exc:
    error = exc.message
print(json.dumps({"accepted": accepted, "schema_checks": check.call_count, "error": error}))
"""


def run_in_rasa(tmp_path) -> dict:
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT, str(tmp_path)],
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_replies_are_validated_without_rechecking_the_schema(tmp_path) -> None:
    outcome = run_in_rasa(tmp_path)
    assert outcome["accepted"] is True
    # At most once for the whole process (the cached validator), never once per reply.
    assert outcome["schema_checks"] <= 1
    assert outcome["error"] is not None
    assert "Failed to validate Action server response" in outcome["error"]
