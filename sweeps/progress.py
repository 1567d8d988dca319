"""The progress bar of a running sweep, drawn with rich: `sweeps run` and its kin, and
`study.optimize(..., show_progress_bar=True)`.

The bar appears with the sweep's first progress (a sweep refused before it starts leaves
the terminal as it was) and shows finished/total, what runs, the best value and the times.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sweeps.budget import Progress as SweepProgress


class ProgressBar:
    """One sweep's bar; `update` is the coordinator's `on_progress`.

    >>> bar = ProgressBar("iris-rf")
    >>> result = sweeps.run(config, on_progress=bar.update); bar.stop()
    """

    def __init__(self, title: str, *, console: Console | None = None,
                 disabled: bool = False) -> None:
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=20),
                             MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                             TextColumn("{task.fields[status]}", markup=False),
                             console=console, disable=disabled, transient=False)
        self._title = title if len(title) <= 32 else title[:31] + "…"  # room for the counts
        self._task = self._bar.add_task(escape(self._title), total=None, status="")

    def update(self, p: SweepProgress) -> None:
        """Draw the sweep's progress (the first call shows the bar)."""
        if not self._bar.live.is_started:
            self._bar.start()
        done = p.complete + p.pruned + p.failed
        status = (f"running {p.running}  queued {p.queued}  pruned {p.pruned}  failed {p.failed}"
                  + (f"  best {p.best}" if p.best else ""))
        # the status is cut to the terminal's width: rich would drop the bar and counts
        room = (self._bar.console.width - len(self._title) - len(f"{done}/{p.total or '?'}")
                - 20 - 2 * 7 - 6)
        if len(status) > room:
            status = status[:max(room - 1, 0)] + "…" if room > 1 else ""
        self._bar.update(self._task, completed=done, total=p.total, status=status)

    def stop(self) -> None:
        """Leave the bar as last drawn (nothing if it never appeared)."""
        if self._bar.live.is_started:
            self._bar.stop()
