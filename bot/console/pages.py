"""The console page. It is static: sign-in and everything after go through the staff API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

HERE = Path(__file__).parent
router = APIRouter(include_in_schema=False)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@router.get("/console")
async def console_page() -> HTMLResponse:
    html = (HERE / "templates" / "console.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=SECURITY_HEADERS)
