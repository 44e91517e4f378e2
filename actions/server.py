"""The action server: rasa-sdk's app, bound to the configured host, answering only Rasa.

``python -m actions.server --host 127.0.0.1 --port 5055`` (what ``bot.services`` starts). Rasa
sends the shared secret ``ZHIXUN_ACTION_SERVER_TOKEN`` in the ``X-Zhixun-Action-Token`` header
of every action call (``endpoints.yml``); any other request but ``/health`` is refused with 401. The
secret comes from the environment or ``.env``, never the command line (it would show in ``ps``).
"""

from __future__ import annotations

import argparse
import logging
from functools import partial

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

from bot.privacy import warm_up_in_background
from bot.privacy.logs import mask_personal_data_in_logs
from bot.service_auth import ACTION_TOKEN_HEADER, token_matches
from bot.settings import get_settings

log = logging.getLogger(__name__)
# At import, not in main(): Sanic's worker processes import this module, never run main().
mask_personal_data_in_logs()
warm_up_in_background()

OPEN_PATHS = frozenset({"/health"})
ACTIONS_PACKAGE = "actions"


def require_token(app: Sanic, token: str) -> None:
    """Refuse every request but the health check that does not carry the shared secret."""

    @app.on_request
    async def check_token(request: Request) -> HTTPResponse | None:
        offered = request.headers.get(ACTION_TOKEN_HEADER)
        if request.path in OPEN_PATHS or token_matches(offered, token):
            return None
        return response.json(
            {"error": "unauthorized", "detail": f"missing or wrong {ACTION_TOKEN_HEADER} header"},
            status=401,
        )


def create_app(action_executor: ActionExecutor, token: str) -> Sanic:
    """rasa-sdk's app (its routes, listeners and plugins) behind the shared secret; no CORS."""
    app = create_app_for_serve(action_executor, cors_origins=None)
    require_token(app, token)
    return app


def serve(host: str, port: int, token: str) -> None:
    if not token:
        raise SystemExit(
            "ZHIXUN_ACTION_SERVER_TOKEN is empty: `make run` writes one to .env; set it to the "
            "same value for Rasa (endpoints.yml) and the action server."
        )
    action_executor = ActionExecutor()
    action_executor.register_package(ACTIONS_PACKAGE)
    # Sanic rebuilds the app in each worker process from this loader (rasa-sdk does the same).
    loader = AppLoader(factory=partial(create_app, action_executor, token))
    app = loader.load()
    app.prepare(host=host, port=port, workers=utils.number_of_sanic_workers())
    log.info("Action server listening on http://%s:%d", host, port)
    Sanic.serve(primary=app, app_loader=loader)


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Zhixun's action server (rasa-sdk)")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.action_port)
    args = parser.parse_args(argv)
    utils.configure_colored_logging(logging.INFO)
    utils.update_sanic_log_level()
    serve(args.host, args.port, settings.action_server_token)


if __name__ == "__main__":
    main()
