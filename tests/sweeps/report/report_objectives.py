"""Objectives for the report tests (copied into a temporary project folder, then imported
by the sweep's workers): a stepwise quadratic, two objectives, and one that writes an
injection payload into every kind of field it can reach."""

from __future__ import annotations

import math
import os
import tempfile

import sweeps
import tracking

PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    "<img src=x onerror=window.__xss=2;alert(2)>",
    "\"><svg onload=window.__xss=3;alert(3)>",
    "'-alert(4)-'",
    "javascript:window.__xss=5;alert(5)",
    "data:text/html,<script>alert(6)</script>",
    "</script><script>window.__xss=7;alert(7)</script>",
    "<!--<script>window.__xss=8</script>",
    "</textarea><script>window.__xss=9</script>",
    "{{7*7}} ${7*7} {% print 1 %}",
    "[x](javascript:window.__xss=11)",
    "<a href=\"javascript:window.__xss=12\">click</a>",
    "<iframe srcdoc=\"<script>parent.__xss=13</script>\"></iframe>",
    "\u2028\u2029<script>window.__xss=14</script>",
    "<details open ontoggle=window.__xss=15>",
    "<body onload=window.__xss=16>",
    "<style>@import 'http://evil.example/x.css';</style>",
    "<img src=\"http://evil.example/x.png\">",
    "<math><mi xlink:href=\"javascript:window.__xss=19\">x</mi></math>",
    "<object data=\"javascript:window.__xss=20\"></object>",
    "<input autofocus onfocus=window.__xss=21>",
    "<a href=x onmouseover=window.__xss=22>hover</a>",
    "![img](http://evil.example/y.png)",
    "\u202e<b>rtl</b>\u200b",
]


def quad(params: dict, trial: sweeps.Trial) -> dict:
    x, y = params["x"], params["y"]
    loss = 10.0
    for step in range(6):
        loss = (x - 1.0) ** 2 + (y + 0.5) ** 2 + 2.0 / (step + 1)
        trial.report({"loss": loss, "acc": 1.0 / (1.0 + loss)}, step=step)
        if trial.should_prune():
            raise sweeps.TrialPruned()
    if x > 4.5:
        raise RuntimeError("x too large: diverged")
    return {"loss": loss, "acc": 1.0 / (1.0 + loss)}


def keys(params: dict) -> dict:
    """Fails alike for n < 3 (`KeyError: 4`, `KeyError: 5`, ...), once otherwise for n == 3."""
    n = params["n"]
    if n < 3:
        raise KeyError(n + 4)
    if n == 3:
        raise ValueError(f"bad value at 0x{id(params):x}")
    return {"loss": float(n)}


def two(params: dict) -> dict:
    x = params["x"]
    return {"a": x ** 2, "b": math.sqrt(abs(x)) + (0.1 if params["kind"] == "p" else 0.0)}


def nasty(params: dict, trial: sweeps.Trial) -> dict:
    """Writes payloads everywhere: tags, note, an artifact name, an error message."""
    index = trial.number % len(PAYLOADS)
    payload = PAYLOADS[index]
    tracking.set_tag("comment", payload)
    tracking.set_tag("payload_key", PAYLOADS[(index + 1) % len(PAYLOADS)])
    tracking.set_note(f"note {payload}\n\n[x](javascript:window.__xss=99) "
                      f"<img src=x onerror=window.__xss=98>")
    folder = tempfile.mkdtemp()
    name = os.path.join(folder, "<img src=x onerror=alert(1)>.txt")
    with open(name, "w") as handle:
        handle.write(payload)
    tracking.log_artifact(name)
    svg = os.path.join(folder, "plot.svg")
    with open(svg, "w") as handle:
        handle.write('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" '
                     'onload="alert(1)"><script>alert(2)</script>'
                     '<rect width="40" height="20" fill="green"/></svg>')
    tracking.log_artifact(svg, "images")
    for step in range(3):
        trial.report({"loss": params["x"] + 1.0 / (step + 1)}, step=step)
    if params["choice"] == PAYLOADS[0] and trial.number % 2:
        raise ValueError(f"bad choice {payload}")
    return {"loss": params["x"] + (0.5 if params["choice"] == PAYLOADS[1] else 0.0)}


def edge(params: dict) -> dict:
    """The optimum of x lies above its range [0, 1]; y's inside; z does not matter."""
    return {"loss": 20.0 * (params["x"] - 2.0) ** 2 + 80.0 * (params["y"] - 0.5) ** 2}
