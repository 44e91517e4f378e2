"""`rasa data validate` is clean, and every response is reachable.

Rasa's validator warns about every response that no story or rule names — which includes the
``utter_ask_<slot>`` questions that forms send and the responses custom actions dispatch. Those are
accepted only when a form slot or the code really uses them; any other warning fails.
"""

from __future__ import annotations

import os
import re
import subprocess

import yaml

from bot.settings import PROJECT_ROOT

UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule")
WARNING = re.compile(r"UserWarning: (.*)")


def responses_used_outside_stories() -> set[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    asked = {
        f"utter_ask_{slot}"
        for form in domain.get("forms", {}).values()
        for slot in form.get("required_slots", [])
    }
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("actions", "bot")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
    )
    dispatched = set(re.findall(r"\butter_\w+", code))
    # Rasa's built-in fallback action sends utter_default.
    return asked | dispatched | {"utter_default"}


def test_rasa_data_validate_is_clean() -> None:
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"), "data", "validate"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    allowed = responses_used_outside_stories()
    problems = []
    for message in WARNING.findall(output):
        unused = UNUSED.search(message)
        if unused and unused.group(1) in allowed:
            continue
        if "pkg_resources" in message or "Deprecat" in message:
            continue
        problems.append(message)
    assert not problems, problems
