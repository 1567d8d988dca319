"""The HTML sweep report: one self-contained file that compares every trial.

    from sweeps.report import default_report_path, resolve_sweeps, write_report, write_sweep_report
    ids = resolve_sweeps(client, ["quickstart"])          # experiment name -> latest sweep
    write_sweep_report(client, ids[0])    # reports/quickstart/<name>-<id>.html + the latest
    write_report(client, ids, default_report_path(client, ids))

`data` reads a sweep from the store into frames, `figures` draws it (optuna.visualization
and plotly), `page` assembles escaped HTML under a strict Content-Security-Policy.
"""

from sweeps.report.build import (
    default_report_path,
    resolve_sweeps,
    sweep_report_path,
    write_report,
    write_sweep_report,
)

__all__ = ["default_report_path", "resolve_sweeps", "sweep_report_path", "write_report",
           "write_sweep_report"]
