"""The UI's browser-facing defences, as one ASGI middleware around the whole app.

A local web UI is reachable by every page the user's browser opens, so:
- **Host** must name this server through loopback (`127.0.0.1`, `localhost`, `[::1]`) with the
  port it listens on, or a host the user bound with `--host`; anything else is 403. That
  defeats DNS rebinding (a hostile name that resolves to 127.0.0.1 still sends its own Host).
- A request that is not GET/HEAD must come from this origin: an `Origin` header, when present,
  must be `http://<Host>`, and `Sec-Fetch-Site` must not say cross-site (403 otherwise); its
  body must be `Content-Type: application/json` (415 otherwise). A cross-site form or a
  `text/plain` fetch cannot send JSON without a CORS preflight, which this app never answers.
- Every response carries a Content-Security-Policy (own scripts only, no inline script),
  `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
  `X-Frame-Options: SAMEORIGIN`; a response that sets its own CSP (the sweep report) keeps it.
  No response ever carries `Access-Control-Allow-Origin`.
Nothing here depends on User-Agent or X-Forwarded-* headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'self'")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD"})
_ADDED = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def host_name(host: str) -> str:
    """How `host` appears in a Host header (IPv6 in brackets), lower case."""
    host = host.strip().lower()
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def is_loopback(host: str) -> bool:
    return host_name(host) in LOOPBACK_NAMES or host.startswith("127.")


class SecurityMiddleware:
    """Host/Origin/Content-Type checks and security headers (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.names = frozenset(LOOPBACK_NAMES) | {host_name(h) for h in hosts if h}

    def host_allowed(self, host: str | None, port: int | None) -> bool:
        if not host or port is None:
            return False
        host = host.lower()
        if host.endswith(f":{port}"):
            return host[: -len(f":{port}")] in self.names
        return port == 80 and host in self.names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # none are served; refuse before any check
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        server = scope.get("server")
        port = server[1] if server else None
        if not self.host_allowed(host, port):
            await _refuse(scope, send, 403, "Host header not allowed: this UI only answers to "
                          "its own address (DNS rebinding protection)")
            return
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin.lower() != f"http://{host.lower()}":
                await _refuse(scope, send, 403, "cross-origin request refused")
                return
            if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                await _refuse(scope, send, 403, "cross-site request refused")
                return
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                await _refuse(scope, send, 415, "a request that changes data needs "
                              "Content-Type: application/json")
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _secured(list(message.get("headers", [])),
                                              scope["path"])
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secured(raw: list[tuple[bytes, bytes]], path: str) -> list[tuple[bytes, bytes]]:
    names = {k.lower() for k, _ in raw}
    out = [(k, v) for k, v in raw if k.lower() != b"access-control-allow-origin"]
    if b"content-security-policy" not in names:
        out.append((b"content-security-policy", CSP.encode()))
    out += [(k, v) for k, v in _ADDED if k not in names]
    if path.startswith("/api/") and b"cache-control" not in names:
        out.append((b"cache-control", b"no-store"))
    return out


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": _secured([(b"content-type", b"application/json"),
                                     (b"content-length", str(len(body)).encode())],
                                    scope.get("path", "/"))})
    await send({"type": "http.response.body", "body": body})
