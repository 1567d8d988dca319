"""Reading one artifact file for the UI: confined to the run's folder, never through a link.

`tracking.host.open_artifact` validates the path and opens the file one folder at a time
from the tracking root down with `O_NOFOLLOW`, so a symbolic link planted anywhere in the store
(or swapped in after the check) is refused, not followed, and a hard-linked file is not served.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tracking.host import open_artifact  # the UI's file reads (api.py) go through it

IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
               "gif": "image/gif", "webp": "image/webp"}
"""Raster images, the only artifacts ever shown inline (an SVG can carry script)."""
TEXT_SUFFIXES = frozenset({
    "txt", "log", "md", "rst", "py", "yaml", "yml", "toml", "ini", "cfg", "json", "jsonl",
    "csv", "tsv", "html", "htm", "svg", "xml", "sh", "out", "err", "ipynb", "js", "css", ""})
PREVIEW_BYTES = 256 * 1024
PREVIEW_CSV_ROWS = 200


def suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def preview_kind(path: str) -> str:
    """How the UI previews a file: image, csv, json, text (HTML/SVG included), or none."""
    ext = suffix(path)
    if ext in IMAGE_TYPES:
        return "image"
    if ext in ("csv", "tsv"):
        return "csv"
    if ext in ("json", "ipynb"):
        return "json"
    if ext in TEXT_SUFFIXES:
        return "text"
    return "none"


def chunks(handle: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    with handle:
        while block := handle.read(size):
            yield block


def preview(run_dir: Path, path: str) -> dict[str, Any]:
    """A JSON-ready preview of an artifact file (text is never interpreted as HTML)."""
    handle, size, rel = open_artifact(run_dir, path)
    kind = preview_kind(rel)
    out: dict[str, Any] = {"path": rel, "size": size, "kind": kind, "truncated": False}
    if kind in ("image", "none"):
        handle.close()
        return out
    with handle:
        data = handle.read(PREVIEW_BYTES + 1)
    out["truncated"] = len(data) > PREVIEW_BYTES
    data = data[:PREVIEW_BYTES]
    if b"\x00" in data[:8192]:
        out["kind"] = "binary"
        return out
    text = data.decode("utf-8", errors="replace")
    if kind == "json" and not out["truncated"]:
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            out["kind"] = "text"
    elif kind == "json":
        out["kind"] = "text"
    if kind == "csv":
        dialect = "excel-tab" if suffix(rel) == "tsv" else "excel"
        rows = []
        try:
            for row in csv.reader(io.StringIO(text), dialect=dialect):
                rows.append(row)
                if len(rows) > PREVIEW_CSV_ROWS:
                    out["truncated"] = True
                    rows.pop()
                    break
        except csv.Error:
            out["kind"] = "text"
        else:
            out["rows"] = rows
            return out
    out["text"] = text
    return out


def download_headers(rel: str, *, inline: bool) -> tuple[str, dict[str, str]]:
    """(media type, headers) for serving an artifact: an attachment unless it is a raster
    image asked for inline; HTML, SVG and other text as text/plain."""
    from urllib.parse import quote

    name = rel.rsplit("/", 1)[-1]
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                         for c in name) or "artifact"
    ext = suffix(rel)
    if ext in IMAGE_TYPES:
        media = IMAGE_TYPES[ext]
    elif ext in TEXT_SUFFIXES:
        media = "text/plain; charset=utf-8"
    else:
        media = "application/octet-stream"
    disposition = "inline" if inline and ext in IMAGE_TYPES else "attachment"
    headers = {
        "content-disposition":
            f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
        "content-security-policy": "default-src 'none'; sandbox",
    }
    return media, headers
