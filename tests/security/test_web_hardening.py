"""Issue 8, items 4, 5 and 7 (web app): the chat socket only for the portal's origins, the portal
page under a CSP, request bodies bounded on the bytes actually read, API docs served locally
and only outside production."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import socketio
import websockets.sync.client
from fastapi.testclient import TestClient
from websockets.exceptions import InvalidStatus

from bot.gateway.app import create_app
from bot.settings import Settings
from bot.store import upgrade
from tests.security.web_server import WebServer, start_web_server

EVIL = "http://evil.example"
FIFTY_MB = 50 * 1024 * 1024
# Peak resident memory may grow this much while a 50 MB body is refused (buffers, not the body).
MAX_GROWTH_KIB = 10 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    web = start_web_server(tmp_path_factory.mktemp("web"))
    try:
        yield web
    finally:
        web.stop()


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    store = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(store)
    return Settings(_env_file=None, rasa_url="http://127.0.0.1:9", database_url=store)


# ---- item 4: socket.io origins ----------------------------------------------------------------


def _socket_url(server: WebServer) -> str:
    return server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


def test_socket_refuses_a_page_on_another_site(server: WebServer) -> None:
    polling = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        polling.connect(
            server.url, headers={"Origin": EVIL}, transports=["polling"], wait_timeout=5
        )
    with pytest.raises(InvalidStatus):
        websockets.sync.client.connect(_socket_url(server), origin=EVIL, open_timeout=5)


def test_socket_accepts_the_portal(server: WebServer) -> None:
    polling = socketio.Client(reconnection=False)
    polling.connect(
        server.url, headers={"Origin": server.url}, transports=["polling"], wait_timeout=5
    )
    assert polling.connected
    polling.disconnect()
    with websockets.sync.client.connect(_socket_url(server), origin=server.url) as ws:
        assert ws.recv(timeout=5).startswith("0{")  # engine.io "open" with its sid


def test_configured_origins_replace_the_default() -> None:
    settings = Settings(
        _env_file=None, allowed_origins=" https://www.example.gov.cn/ , https://m.example.gov.cn"
    )
    assert settings.socket_allowed_origins == [
        "https://www.example.gov.cn",
        "https://m.example.gov.cn",
    ]
    default = Settings(_env_file=None, web_port=8123)
    assert default.socket_allowed_origins == ["http://127.0.0.1:8123", "http://localhost:8123"]


# ---- item 4: the portal page ------------------------------------------------------------------


class _InlineCode(HTMLParser):
    """What a strict CSP would block in a page: inline scripts, styles, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        if "style" in names:
            self.found.append(f"style= on <{tag}>")
        self.found += [f"{name}= on <{tag}>" for name in names if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("inline script text")


def test_portal_has_a_csp_and_cannot_be_framed(app_settings: Settings) -> None:
    app, _ = create_app(app_settings)
    with TestClient(app) as client:
        page = client.get("/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    # The page keeps working under that policy: nothing inline for it to block.
    parser = _InlineCode()
    parser.feed(page.text)
    assert parser.found == []


# ---- item 5: request bodies -------------------------------------------------------------------


def _fifty_megabytes(start: bytes, sent: list[int]) -> Iterator[bytes]:
    """A well-formed beginning, then filler: the body is read on, not refused as malformed."""
    yield start
    chunk = b"x" * (64 * 1024)
    while sent[0] < FIFTY_MB:
        sent[0] += len(chunk)
        yield chunk


def _engineio_sid(server: WebServer) -> str:
    handshake = httpx.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=10)
    return re.search(r'"sid":"([^"]+)"', handshake.text).group(1)  # type: ignore[union-attr]


MULTIPART_START = (
    b"--b0undary\r\n"
    b'Content-Disposition: form-data; name="audio"; filename="speech.webm"\r\n'
    b"Content-Type: audio/webm\r\n\r\n"
)


def _targets(server: WebServer) -> dict[str, tuple[str, dict[str, str], bytes]]:
    """Path, headers and the start of a well-formed body for each way in."""
    auth = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    voice = {
        "X-Zhixun-Session": "attack-session-01",
        "Content-Type": "multipart/form-data; boundary=b0undary",
    }
    sid = _engineio_sid(server)
    return {
        "chat": ("/api/chat", auth, b'{"sender": "a", "message": "'),
        "asr": ("/api/asr", voice, MULTIPART_START),
        "wechat": ("/wechat", {"Content-Type": "text/xml"}, b"<xml><Content>"),
        "socket.io": (f"/socket.io/?EIO=4&transport=polling&sid={sid}", {}, b"4"),
    }


@pytest.mark.parametrize("target", ["chat", "asr", "wechat", "socket.io"])
def test_chunked_body_is_cut_off_without_memory_growth(server: WebServer, target: str) -> None:
    path, headers, start = _targets(server)[target]
    # Warm up: whatever the route loads lazily is loaded before the peak is read.
    httpx.post(server.url + path, headers=headers, content=b"{}", timeout=10)
    time.sleep(0.5)
    peak_before = server.memory_kib("VmHWM")

    sent = [0]
    with httpx.Client(timeout=60) as client:
        response = client.post(
            server.url + path, headers=headers, content=_fifty_megabytes(start, sent)
        )

    assert "content-length" not in {k.lower() for k in response.request.headers}  # chunked
    assert response.status_code == 413, response.text
    assert "过大" in response.json()["detail"] or "too large" in response.json()["detail"]
    assert server.memory_kib("VmHWM") - peak_before < MAX_GROWTH_KIB
    assert sent[0] < FIFTY_MB  # the server stopped reading: the rest was never sent
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("path", ["/api/chat", "/", "/console"])
def test_declared_oversized_body_is_refused_before_it_is_read(
    app_settings: Settings, path: str
) -> None:
    app, _ = create_app(app_settings)
    with TestClient(app) as client:
        response = client.post(path, content=b"{}", headers={"Content-Length": str(FIFTY_MB)})
    assert response.status_code == 413
    assert response.json()["detail"] == "请求内容过大（上限 64 KB），请精简后再发送。"


def test_voice_uploads_get_their_own_larger_limit(app_settings: Settings) -> None:
    app, _ = create_app(app_settings)
    recording = b"RIFF" + bytes(1024 * 1024)  # 1 MB: over the default, under the voice limit
    with TestClient(app) as client:
        voice = client.post(
            "/api/asr", files={"audio": ("a.wav", recording, "audio/wav")}, headers={}
        )
        chat = client.post("/api/chat", content=recording, headers={"Content-Type": "text/plain"})
        too_long = client.post(
            "/api/asr", files={"audio": ("a.wav", recording * 3, "audio/wav")}, headers={}
        )
    assert voice.status_code == 401  # read in full, then refused for its missing session
    assert chat.status_code == 413
    assert too_long.status_code == 413
    assert "2 MB" in too_long.json()["detail"]


# ---- item 7: API docs -------------------------------------------------------------------------


def test_docs_are_served_locally_outside_production(app_settings: Settings) -> None:
    app, _ = create_app(app_settings)
    with TestClient(app) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page)
            assert html.status_code == 200
            assets = re.findall(r'(?:src|href)="([^"]+)"', html.text) + re.findall(
                r"url: '([^']+)'", html.text
            )
            assert not re.search(r"https?://|cdn", html.text, re.IGNORECASE), html.text
            assert assets
            for asset in assets:
                served = client.get(asset)
                assert served.status_code == 200, asset
                assert served.content
        assert client.get("/openapi.json").json()["paths"]["/api/chat"]


def test_no_docs_in_production(app_settings: Settings) -> None:
    production = app_settings.model_copy(
        update={"environment": "production", "secret_key": "s" * 43}
    )
    app, _ = create_app(production)
    with TestClient(app) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert client.get(path).status_code == 404, path
