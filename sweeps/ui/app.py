"""`create_app(root)`: the Starlette app of `sweeps ui`; `serve(root)`: run it with uvicorn.

    from sweeps.ui import serve
    serve("runs", port=5000)            # http://127.0.0.1:5000/, read-only

Routes: the pages (`/`, `/experiments/{id}`, `/runs/{id}`, `/compare?run_ids=`,
`/sweeps/{id}` and its `/sweeps/{id}/report`), `/static/*`, `/vendor/plotly.min.js`, and the
JSON API under `/api/` (documented in `sweeps.ui.api`). No endpoint runs code or starts jobs;
the only write is PATCH of a run's note or tags, and only with `allow_edits=True`.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sweeps.ui import api, pages
from sweeps.ui.reports import report_page
from sweeps.ui.security import SecurityMiddleware, host_name, is_loopback
from sweeps.ui.state import UIState

STATIC_DIR = Path(__file__).parent / "static"
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if request.url.path.startswith("/api"):
        detail = exc.detail if exc.status_code != 404 else "no such API route"
        return api.JSONResponse({"error": api.one_line(str(detail))},
                                status_code=exc.status_code, headers=headers)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=headers)


def create_app(root: str | Path, *, allow_edits: bool = False,
               hosts: Iterable[str] = ()) -> Starlette:
    """The UI app over the tracking root `root`.

    `hosts`: names besides loopback that the Host header may carry (the `--host` address).

    >>> app = create_app("runs")   # serve with uvicorn.run(app, host="127.0.0.1", port=5000)
    """
    state = UIState(root, allow_edits=allow_edits)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.close()

    routes = [
        Route("/", pages.experiments_page),
        Route("/experiments/{experiment_id}", pages.runs_page),
        Route("/runs/{run_id}", pages.run_page),
        Route("/compare", pages.compare_page),
        Route("/sweeps/{run_id}", pages.sweep_page),
        Route("/sweeps/{run_id}/report", report_page),
        Route("/models", pages.models_page),
        Route("/models/{name}", pages.model_page),
        Route("/vendor/plotly.min.js", pages.plotly_js),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/api", api.api_index),
        Route("/api/experiments", api.list_experiments),
        Route("/api/experiments/{experiment_id}", api.get_experiment),
        Route("/api/experiments/{experiment_id}/runs", api.experiment_runs),
        Route("/api/experiments/{experiment_id}/columns", api.experiment_columns),
        Route("/api/runs/{run_id}", api.get_run, methods=["GET"]),
        Route("/api/runs/{run_id}", api.patch_run, methods=["PATCH"]),
        Route("/api/runs/{run_id}/children", api.run_children),
        Route("/api/runs/{run_id}/metrics/{key:path}", api.metric_history),
        Route("/api/runs/{run_id}/artifacts", api.list_artifacts),
        Route("/api/runs/{run_id}/artifacts/preview", api.preview_artifact),
        Route("/api/runs/{run_id}/artifacts/download", api.download_artifact),
        Route("/api/compare", api.compare),
        Route("/api/sweeps/{run_id}/status", api.sweep_status),
        Route("/api/sweeps/{run_id}/advice", api.sweep_advice),
        Route("/api/models", api.list_models),
        Route("/api/models/{name}", api.get_model),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(SecurityMiddleware, hosts=list(hosts))],
                    exception_handlers={HTTPException: _http_error})
    app.state.ui = state
    return app


def _extra_hosts(host: str) -> list[str]:
    """Host names a browser may use for a non-loopback bind address."""
    if is_loopback(host):
        return [host]
    if host not in WILDCARD_HOSTS:
        return [host]
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names.update(info[4][0] for info in socket.getaddrinfo(name, None))
        except OSError:
            continue
    return sorted(n for n in names if n)


def serve(root: str | Path, *, host: str = "127.0.0.1", port: int = 5000,
          allow_edits: bool = False) -> int:
    """Serve the UI until Ctrl-C; returns the exit code (2 when the port cannot be bound).

    >>> serve("runs")              # http://127.0.0.1:5000/
    """
    import uvicorn

    if not is_loopback(host):
        print(f"sweeps ui: warning: listening on {host}, not loopback: anyone who can reach "
              "this address can read every run (there is no authentication)", file=sys.stderr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host.strip("[]"), port))
    except OSError as e:
        print(f"sweeps ui: cannot listen on {host}:{port}: {e.strerror or e} "
              "(choose another --port)", file=sys.stderr)
        return 2
    app = create_app(root, allow_edits=allow_edits, hosts=_extra_hosts(host))
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host_name(host)
    print(f"sweeps ui: http://{shown}:{port}/  (store: {app.state.ui.shown_root()}; "
          f"{'edits allowed' if allow_edits else 'read-only'}; Ctrl-C to stop)", flush=True)
    config = uvicorn.Config(app, host=host.strip("[]"), port=port, log_level="warning",
                            proxy_headers=False, server_header=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except SystemExit:
        print(f"sweeps ui: cannot listen on {host}:{port}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0 if server.started else 2
