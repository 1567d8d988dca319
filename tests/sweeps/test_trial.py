"""What a trial sends to the coordinator, and when (a recording channel stands in for the pipe)."""

from __future__ import annotations

import time

from sweeps.trial import Logged, TrialSpec, TrialWriter
from tracking.entities import Metric


class Recorder:
    def __init__(self) -> None:
        self.events: list = []

    def send(self, event) -> None:
        self.events.append(event)

    def ask_prune(self, key: str) -> bool:
        return False


def spec() -> TrialSpec:
    return TrialSpec(key="k", number=0, attempt=1, params={}, objective="m:f", command=None,
                     cwd=".", env={}, objective_metrics=("loss",), artifact_dir="/nonexistent",
                     tracking_uri="/nonexistent")


def point(step: int) -> list[Metric]:
    return [Metric("loss", float(step), 0, step)]


def test_values_logged_close_together_travel_together():
    channel = Recorder()
    writer = TrialWriter(spec(), channel, max_delay=0.2)
    for step in range(5):
        writer.log_metrics(point(step))
    assert channel.events == []
    writer.flush()
    assert [len(e.metrics) for e in channel.events] == [5]


def test_a_value_after_a_quiet_spell_is_sent_at_once():
    channel = Recorder()
    writer = TrialWriter(spec(), channel, max_delay=0.1)
    time.sleep(0.15)
    writer.log_metrics(point(0))
    assert [[m.step for m in e.metrics] for e in channel.events] == [[0]]
    time.sleep(0.15)
    writer.log_metrics(point(1))
    assert [[m.step for m in e.metrics] for e in channel.events] == [[0], [1]]
    assert all(isinstance(e, Logged) for e in channel.events)
