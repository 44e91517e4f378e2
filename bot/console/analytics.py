"""Analytics for admins: the summary as JSON and CSV, the dashboard and the monthly report.

The pages are static like the console (sign-in happens on /console; the session cookie is
shared); their scripts fetch the admin-only summary API."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine

from bot.analytics.export import summary_csv
from bot.analytics.period import Period, PeriodError, parse_month, parse_period
from bot.analytics.summary import build_summary
from bot.catalog import Catalog, load_catalog
from bot.console.auth import AdminStaff
from bot.console.pages import HERE, SECURITY_HEADERS
from bot.handoff.desk import HandoffDesk
from bot.store import make_engine, utcnow

router = APIRouter(tags=["analytics"])
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# A query value longer than this is refused before it is even parsed.
_MAX_PARAM = 32


@lru_cache
def _catalog(path: Path) -> Catalog:
    return load_catalog(path)


@lru_cache
def _events_engine(url: str) -> Engine | None:
    return make_engine(url) if url else None


def _desk(request: Request) -> HandoffDesk:
    return request.app.state.handoff_desk


def _period(request: Request, first: str | None, last: str | None) -> Period:
    settings = _desk(request).settings
    zone = ZoneInfo(settings.timezone)
    for value in (first, last):
        if value is not None and len(value) > _MAX_PARAM:
            raise HTTPException(status_code=422, detail="日期参数过长，格式为 YYYY-MM-DD")
    try:
        return parse_period(first or None, last or None, zone, datetime.now(zone).date())
    except PeriodError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None


async def _summary(request: Request, period: Period) -> dict[str, Any]:
    desk = _desk(request)
    catalog = _catalog(desk.settings.catalog_path)
    events = _events_engine(desk.settings.analytics_events_url)
    return await to_thread.run_sync(build_summary, desk.engine, period, catalog, utcnow(), events)


FromDate = Annotated[str | None, Query(alias="from", description="YYYY-MM-DD（含）")]
ToDate = Annotated[str | None, Query(alias="to", description="YYYY-MM-DD（含）")]


@router.get("/api/analytics/summary", summary="The four indicator groups of a period (admins)")
async def summary_json(
    request: Request, _: AdminStaff, first: FromDate = None, last: ToDate = None
) -> JSONResponse:
    period = _period(request, first, last)
    return JSONResponse(await _summary(request, period), headers=_NO_STORE)


@router.get("/api/analytics/summary.csv", summary="The summary as CSV for Excel (admins)")
async def summary_csv_export(
    request: Request, _: AdminStaff, first: FromDate = None, last: ToDate = None
) -> Response:
    period = _period(request, first, last)
    body = summary_csv(await _summary(request, period))
    name = f"zhixun-analytics-{period.first_day}-{period.last_day}.csv"
    headers = {**_NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)


def _page(template: str) -> HTMLResponse:
    html = (HERE / "templates" / template).read_text(encoding="utf-8")
    return HTMLResponse(html, headers=SECURITY_HEADERS)


@router.get("/console/analytics", include_in_schema=False)
async def analytics_page() -> HTMLResponse:
    return _page("analytics.html")


@router.get("/console/analytics/report", include_in_schema=False)
async def report_page(request: Request, month: str | None = None) -> HTMLResponse:
    if month is not None:
        if len(month) > _MAX_PARAM:
            raise HTTPException(status_code=422, detail="参数 month 过长，格式为 YYYY-MM")
        try:
            parse_month(month, ZoneInfo(_desk(request).settings.timezone))
        except PeriodError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
    return _page("analytics_report.html")
