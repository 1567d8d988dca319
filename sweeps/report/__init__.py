"""The HTML sweep report: one self-contained file that compares every trial.

    from sweeps.report import write_report, resolve_sweeps, default_report_path
    ids = resolve_sweeps(client, ["quickstart"])          # experiment name -> latest sweep
    write_report(client, ids, default_report_path(client, ids))

`data` reads a sweep from the store into frames, `figures` draws it (optuna.visualization
and plotly), `page` assembles escaped HTML under a strict Content-Security-Policy.
"""

from sweeps.report.build import default_report_path, resolve_sweeps, write_report

__all__ = ["default_report_path", "resolve_sweeps", "write_report"]
