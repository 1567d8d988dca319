"""`sweeps ui`: browse, filter and compare runs and artifacts in the browser.

    from sweeps.ui import serve
    serve("runs")                        # http://127.0.0.1:5000/, read-only

`create_app(root)` gives the Starlette app itself (for tests, or another ASGI server).
The JSON API the pages use is documented in `sweeps.ui.api`.
"""

from sweeps.ui.app import create_app, serve

__all__ = ["create_app", "serve"]
