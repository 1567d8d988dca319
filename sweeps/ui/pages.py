"""The HTML pages: small shells that load the page's script, which draws from the JSON API.

Nothing the user logged is written into these shells; the one value from the URL (an id)
goes into a `data-` attribute through `html.escape`. The scripts in `static/` put user text
into the page with `textContent` only (the one exception is a note, which the server renders
as sanitised Markdown).
"""

from __future__ import annotations

import functools
import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sweeps.ui.state import UIState

PLOTLY_URL = "/vendor/plotly.min.js"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def shell(title: str, script: str, *, data: dict[str, str] | None = None,
          plotly: bool = False, allow_edits: bool = False) -> HTMLResponse:
    attrs = "".join(f' data-{k}="{_esc(v)}"' for k, v in (data or {}).items())
    mode = "edits allowed" if allow_edits else "read-only"
    scripts = ([f'<script src="{PLOTLY_URL}"></script>'] if plotly else []) + [
        '<script src="/static/ui.js"></script>', f'<script src="/static/{script}"></script>']
    return HTMLResponse(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        f"<title>{_esc(title)} · sweepbook</title>"
        "<link rel=\"icon\" href=\"data:,\">"
        "<link rel=\"stylesheet\" href=\"/static/ui.css\"></head>"
        f"<body{attrs} data-edits=\"{'1' if allow_edits else '0'}\">"
        "<header><a class=\"brand\" href=\"/\">sweepbook</a><nav id=\"crumbs\"></nav>"
        f"<span class=\"mode\">{mode}</span><a class=\"apilink\" href=\"/models\">Models</a>"
        "<a class=\"apilink\" href=\"/api\">API</a></header>"
        "<main id=\"app\"><p class=\"muted\" id=\"loading\">Loading…</p></main>"
        + "".join(scripts) + "</body></html>")


def _state(request: Request) -> UIState:
    return request.app.state.ui


def experiments_page(request: Request) -> Response:
    return shell("Experiments", "experiments.js", allow_edits=_state(request).allow_edits)


def runs_page(request: Request) -> Response:
    return shell("Runs", "runs.js", data={"experiment": request.path_params["experiment_id"]},
                 allow_edits=_state(request).allow_edits)


def run_page(request: Request) -> Response:
    return shell("Run", "run.js", data={"run": request.path_params["run_id"]}, plotly=True,
                 allow_edits=_state(request).allow_edits)


def compare_page(request: Request) -> Response:
    return shell("Compare", "compare.js", plotly=True, allow_edits=_state(request).allow_edits)


def sweep_page(request: Request) -> Response:
    return shell("Sweep", "sweep.js", data={"run": request.path_params["run_id"]},
                 allow_edits=_state(request).allow_edits)


def models_page(request: Request) -> Response:
    return shell("Models", "models.js", allow_edits=_state(request).allow_edits)


def model_page(request: Request) -> Response:
    return shell("Model", "models.js", data={"model": request.path_params["name"]},
                 allow_edits=_state(request).allow_edits)


@functools.lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    from sweeps.report.assets import plotly_script  # the UI's figures are scatter traces only
    return plotly_script().encode("utf-8")


def plotly_js(request: Request) -> Response:
    return Response(_plotly_js(), media_type="text/javascript; charset=utf-8",
                    headers={"cache-control": "public, max-age=86400"})
