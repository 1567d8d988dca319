"""The sweep page's report: `sweeps.report.write_report` output, cached outside the store.

A report is rebuilt when the sweep's stored data changed (its status fingerprint), at most
once every `MIN_REBUILD_SECONDS` while the sweep runs; meanwhile the previous one is served.
It is served under its own Content-Security-Policy (taken from the report's `<meta>` tag),
plus `sandbox allow-scripts`, so its scripts run in an opaque origin that cannot call the API.
"""

from __future__ import annotations

import html
import re
import sys
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sweeps.ui.api import ApiError, sweep_status_data
from sweeps.ui.state import NoStore, UIState
from tracking import NotFoundError

MIN_REBUILD_SECONDS = 3.0
_META_CSP = re.compile(
    r'<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"', re.IGNORECASE)
_FALLBACK_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def report_csp(text: str) -> str:
    """The report's own CSP, made a frame of this UI that runs in an opaque origin."""
    found = _META_CSP.search(text[:20_000])
    policy = html.unescape(found.group(1)) if found else _FALLBACK_CSP
    policy = policy.replace("\r", " ").replace("\n", " ").strip().rstrip(";")
    return f"{policy}; frame-ancestors 'self'; sandbox allow-scripts"


def report_file(state: UIState, sweep_id: str) -> Path:
    """The cached report for the sweep's current data, rebuilt when it changed."""
    from sweeps.report import write_report

    status = sweep_status_data(state, sweep_id)
    run_id = status["run_id"]
    target = state.cache_dir() / f"{run_id}-{status['version']}.html"
    with state.report_lock(run_id):
        if target.exists():
            return target
        previous = state.reports_built.get(run_id)
        if (previous is not None and status["status"] == "RUNNING" and previous[1].exists()
                and time.monotonic() - previous[0] < MIN_REBUILD_SECONDS):
            return previous[1]
        write_report(state.client(), [run_id], target)
        state.reports_built[run_id] = (time.monotonic(), target)
        if previous is not None and previous[1] != target:
            previous[1].unlink(missing_ok=True)
    return target


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _message(title: str, text: str) -> HTMLResponse:
    body = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}"
            f"</title></head><body style='font-family:sans-serif;color:#444'>"
            f"<p>{esc(title)}</p><pre style='white-space:pre-wrap'>{esc(text)}</pre>"
            "</body></html>")
    return HTMLResponse(body, headers={
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                   "frame-ancestors 'self'; sandbox"})


def report_page(request: Request) -> Response:
    state: UIState = request.app.state.ui
    try:
        path = report_file(state, request.path_params["run_id"])
    except (ApiError, NotFoundError) as e:
        return _message("No report", str(e))
    except NoStore:
        return _message("No report", "no tracking data yet")
    except Exception as e:  # noqa: BLE001 - the report is best effort; the page stays up
        print(f"sweeps ui: report failed: {type(e).__name__}: {e}", file=sys.stderr)
        return _message("The report could not be built (yet)", f"{type(e).__name__}: {e}")
    text = path.read_text(encoding="utf-8")
    return HTMLResponse(text, headers={"content-security-policy": report_csp(text),
                                       "cache-control": "no-store"})
