"""tracking.lines: the `@tracking` event-line protocol, written and read back."""

from __future__ import annotations

import io
import json
import math
import os
import struct

import pytest

from tracking import lines
from tracking.entities import Metric, RunStatus
from tracking.errors import InvalidInputError


def events(stream: io.StringIO) -> list[dict]:
    parsed = [lines.parse_line(line) for line in stream.getvalue().splitlines()]
    assert all(event is not None for event in parsed)
    return parsed


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def test_line_writer_round_trip(tmp_path):
    stream = io.StringIO()
    writer = lines.LineWriter("run1", stream)
    values = [math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, 0.1]
    writer.log_metrics([Metric(f"m{i}", v, 0, 3) for i, v in enumerate(values)]
                       + [Metric("later", 1.0, 0, 4)])
    writer.log_params({"lr": ("0.1", "float"), "model": ("rf", "str")})
    writer.set_tags({"stage": "main"})
    writer.set_note("line one\nline two @tracking {}")
    writer.log_artifact(tmp_path / "a.png", "plots")
    writer.log_artifacts(tmp_path, None)
    writer.write_artifact("notes/x.txt", b"payload")
    writer.end(RunStatus.FINISHED)
    got = events(stream)
    assert len(stream.getvalue().splitlines()) == len(got) == 9
    first, second = got[0], got[1]
    assert first["step"] == 3 and second == {"metrics": {"later": 1.0}, "step": 4}
    assert [bits(first["metrics"][f"m{i}"]) for i in range(1, 7)] == [bits(v) for v in values[1:]]
    assert math.isnan(first["metrics"]["m0"])
    assert got[2] == {"params": {"lr": "0.1", "model": "rf"}}
    assert got[3] == {"tags": {"stage": "main"}}
    assert got[4] == {"note": "line one\nline two @tracking {}"}
    assert got[5] == {"artifact": str(tmp_path / "a.png"), "artifact_path": "plots"}
    assert got[6] == {"artifacts": str(tmp_path), "artifact_path": None}
    assert got[7]["file"] == "notes/x.txt"
    with open(got[7]["from"], "rb") as handle:
        assert handle.read() == b"payload"
    os.unlink(got[7]["from"])
    assert got[8] == {"status": "FINISHED"}


def test_format_event_is_one_line():
    line = lines.format_event({"note": "a\nb\u2028c"})
    assert "\n" not in line and "\u2028" not in line
    assert lines.parse_line(line) == {"note": "a\nb\u2028c"}
    assert lines.parse_line(line + "\r\n") == {"note": "a\nb\u2028c"}


@pytest.mark.parametrize("line", ["", "plain output", " @tracking {}", "@trackingx {}",
                                  "# @tracking {\"note\": 1}"])
def test_ordinary_lines(line):
    assert lines.parse_line(line) is None


@pytest.mark.parametrize("line, needle", [
    ("@tracking ", "not valid JSON"),
    ("@tracking {", "not valid JSON"),
    ("@tracking [1, 2]", "one JSON object"),
    ("@tracking 3", "one JSON object"),
    ("@tracking {}", "exactly one of"),
    ('@tracking {"step": 1}', "exactly one of"),
    ('@tracking {"metrics": {}, "params": {}}', "exactly one of"),
    ('@tracking {"metrics": {"a": 1}, "colour": "red"}', "unknown keys ['colour']"),
    ('@tracking {"metrics": [1, 2]}', "'metrics' must be an object"),
    ('@tracking {"params": "lr=1"}', "'params' must be an object"),
    ('@tracking {"tags": null}', "'tags' must be an object"),
])
def test_malformed_event_lines(line, needle):
    with pytest.raises(InvalidInputError) as caught:
        lines.parse_line(line)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_fluent_api_prints_event_lines_when_told(python, tmp_path):
    done = python("""
        import math, tracking
        with tracking.start_run() as run:  # re-enters the host's run from the environment
            tracking.log_metric("loss", math.nan, step=2)
            tracking.log_metrics({"a": 1.0, "b": -0.0}, step=3)
            tracking.log_param("lr", 0.01)
            tracking.set_tag("k", "v")
            print("ordinary output")
        print(run.info.run_id)
    """, env={"TRACKING_RUN_ID": "host-run", "TRACKING_EVENTS": "stdout"})
    output = done.stdout.splitlines()
    assert output[-1] == "host-run" and "ordinary output" in output
    got = [e for e in map(lines.parse_line, output) if e is not None]
    assert math.isnan(got[0]["metrics"]["loss"]) and got[0]["step"] == 2
    assert got[1] == {"metrics": {"a": 1.0, "b": -0.0}, "step": 3}
    assert bits(got[1]["metrics"]["b"]) == bits(-0.0)
    assert got[2:] == [{"params": {"lr": "0.01"}}, {"tags": {"k": "v"}}]
    assert not any("status" in e for e in got)  # the host ends its run
    assert json.dumps(got[2])
