"""Many real processes on one store: nothing lost, nothing locked, migrated once."""

from __future__ import annotations

import math
import random
import sqlite3
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tracking import Client
from tracking.store.schema import SCHEMA_VERSION
from tracking.store.sqlite import DB_FILENAME

WRITERS = 4
POINTS = 2_500
SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]


def values(worker: int) -> list[float]:
    """The exact values worker `worker` logs: random magnitudes and the awkward ones."""
    rng = random.Random(worker)
    out = [rng.uniform(-1, 1) * 10.0 ** rng.randint(-300, 300) for _ in range(POINTS)]
    for i, special in enumerate(SPECIAL):
        out[i * 97] = special
    return out


def bits(value: float) -> bytes:
    return struct.pack("<d", math.nan if math.isnan(value) else value)


def start(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(children: list[subprocess.Popen[str]], timeout: float = 120) -> list[str]:
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, err
        assert "locked" not in err.lower(), err
        outputs.append(out)
    return outputs


WRITER = f"""
    import sys, time, random
    from pathlib import Path
    from tracking import Client
    sys.path.insert(0, {str(Path(__file__).parent)!r})
    from test_concurrency import values
    root, run_id, worker, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.005)
    client = Client(root, flush_interval=0.02)
    slowest = 0.0
    for step, value in enumerate(values(worker)):
        began = time.monotonic()
        client.log_metric(run_id, f"w{{worker}}", value, step=step)
        slowest = max(slowest, time.monotonic() - began)
        if step % 500 == 0:
            time.sleep(random.random() * 0.01)  # interleave with the other writers
    client.flush()
    print(slowest)
"""

READER = """
    import sys, time
    from pathlib import Path
    from tracking import Client
    root, experiment_id, run_id, go = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    stop = Path(sys.argv[5])
    while not go.exists():
        time.sleep(0.005)
    client = Client(root)
    slowest, reads = 0.0, 0
    while not stop.exists():
        began = time.monotonic()
        client.search_runs([experiment_id], "metrics.w0 > -1e400", order_by=["metrics.w0 DESC"])
        client.get_metric_history(run_id, "w1")
        slowest = max(slowest, time.monotonic() - began)
        reads += 1
    print(reads, slowest)
"""


@pytest.mark.slow
def test_many_writers_and_a_reader_lose_nothing(tmp_path):
    root, go, stop = tmp_path / "store", tmp_path / "go", tmp_path / "stop"
    client = Client(root)
    experiment_id = client.create_experiment("shared")
    run_id = client.create_run(experiment_id).info.run_id
    writers = [start(WRITER, str(root), run_id, str(w), str(go)) for w in range(WRITERS)]
    reader = start(READER, str(root), experiment_id, run_id, str(go), str(stop))
    time.sleep(0.5)  # let the interpreters start, then release them together
    go.touch()
    try:
        slowest_writes = [float(out) for out in finish(writers)]
    finally:
        stop.touch()
    reads, slowest_read = finish([reader])[0].split()
    assert int(reads) > 0
    assert float(slowest_read) < 5.0, "a read waited on the writers"
    assert max(slowest_writes) < 5.0, "a write waited on the reader or the others"
    for worker in range(WRITERS):
        history = client.get_metric_history(run_id, f"w{worker}")
        assert len(history) == POINTS
        assert [m.step for m in history] == list(range(POINTS))
        assert [bits(m.value) for m in history] == [bits(v) for v in values(worker)]
    assert bits(client.get_run(run_id).data.metrics["w0"]) == bits(values(0)[-1])


OPENER = """
    import sys, time
    from pathlib import Path
    from tracking import Client
    root, go = sys.argv[1], Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    client = Client(root)
    experiment_id = client.get_or_create_experiment("shared")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "p", 1)
    client.set_terminated(run.info.run_id)
    print(experiment_id)
"""


def test_ten_processes_open_a_fresh_store_at_once(tmp_path):
    root, go = tmp_path / "store", tmp_path / "go"
    children = [start(OPENER, str(root), str(go)) for _ in range(10)]
    time.sleep(0.5)
    go.touch()
    ids = {out.strip() for out in finish(children)}
    assert len(ids) == 1  # one experiment, created once
    client = Client(root)
    assert len(client.search_runs(list(ids))) == 10
    conn = sqlite3.connect(root / DB_FILENAME)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
