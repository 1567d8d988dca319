"""The `sweeps` command: run | resume | validate | ls | show | report | export | ui.

Every error is one line on stderr and exit code 2; an interrupted sweep exits 130.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from sweeps.errors import SweepsError

console = Console(markup=False, emoji=False, highlight=False)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _error(f"{message} (see {self.prog} --help)")
        raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="STORE",
                        help="tracking root folder (default: $SWEEPS_TRACKING_URI, else ./runs)")


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set budget.trials=100")
    parser.add_argument("--trials", type=_positive_int, help="shortcut for budget.trials")
    parser.add_argument("--workers", type=_positive_int, help="shortcut for execution.workers")
    parser.add_argument("--backend", help="shortcut for execution.backend (local | ray)")
    parser.add_argument("--address", help="shortcut for execution.ray.address")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sweeps", description="Hyperparameter sweeps with tracking.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run a sweep from a YAML config")
    run.add_argument("config", help="path to the sweep config (YAML)")
    _add_overrides(run)
    run.add_argument("--resume", action="store_true",
                     help="continue the latest unfinished sweep of the config's experiment")
    run.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_root(run)

    resume = commands.add_parser("resume", help="continue an interrupted sweep")
    resume.add_argument("sweep", help="sweep run id (or experiment name: its latest sweep)")
    resume.add_argument("--no-report", action="store_true")
    resume.add_argument("--quiet", action="store_true")
    _add_root(resume)

    validate = commands.add_parser("validate", help="check a config and show it resolved")
    validate.add_argument("config")
    _add_overrides(validate)

    ls = commands.add_parser("ls", help="list experiments, or the runs of one")
    ls.add_argument("experiment", nargs="?")
    ls.add_argument("--trials", type=_positive_int, default=10,
                    help="trials shown under each sweep (default 10)")
    _add_root(ls)

    show = commands.add_parser("show", help="show one run")
    show.add_argument("run_id")
    _add_root(show)

    report = commands.add_parser("report", help="write the HTML report of sweeps")
    report.add_argument("sweeps", nargs="+", metavar="EXPERIMENT_OR_SWEEP_RUN_ID")
    report.add_argument("-o", "--output", help="output file (default reports/<experiment>.html)")
    _add_root(report)

    export = commands.add_parser("export", help="write a sweep's trials as CSV")
    export.add_argument("sweep", metavar="EXPERIMENT_OR_SWEEP_RUN_ID")
    export.add_argument("-o", "--output", help="output file (default: standard output)")
    _add_root(export)

    ui = commands.add_parser("ui", help="browse runs in the browser (127.0.0.1 only by default)")
    ui.add_argument("--port", type=_port, default=5000)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--allow-edits", action="store_true",
                    help="allow editing notes and tags from the browser")
    _add_root(ui)
    return parser


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a polite kill stops a sweep like Ctrl-C
    from tracking.errors import TrackingError
    try:
        return COMMANDS[args.command](args)
    except (SweepsError, TrackingError) as e:
        _error(str(e))
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except OSError as e:
        _error(f"{e.strerror or e}: {e.filename or ''}".rstrip(": "))
        return 2


def _error(message: str) -> None:
    """One line on stderr, never wrapped."""
    print("sweeps: error: " + " ".join(message.split()), file=sys.stderr)


# -- helpers -----------------------------------------------------------------------------

def _client(root: str | None, config: Any = None) -> Any:
    """A client of an existing store (commands that only read never create one)."""
    from sweeps.api import tracking_root
    from tracking import Client
    from tracking.client import resolve_tracking_uri
    from tracking.store.sqlite import DB_FILENAME
    folder = resolve_tracking_uri(tracking_root(root, config))
    if not os.path.isfile(os.path.join(folder, DB_FILENAME)):
        raise SweepsError(f"no tracking store at {folder} (run a sweep first, or pass --root)")
    return Client(folder)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1 to 65535 (got {value})")
    return value


def _overrides(args: argparse.Namespace) -> list[str]:
    from sweeps.api import shortcut_overrides
    return [*args.set, *shortcut_overrides(trials=args.trials, workers=args.workers,
                                            backend=args.backend, address=args.address)]


def _format(value: Any) -> str:
    """Numbers (also numbers written as text, like params) to 6 significant digits."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return value if number.is_integer() else f"{number:.6g}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


# -- run / resume ------------------------------------------------------------------------

def _run_sweep(config: Any, root: str | None, resume: str | None, no_report: bool,
               quiet: bool) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from sweeps import api

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TextColumn("{task.fields[status]}", markup=False),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                        disable=quiet, transient=False)
    task = progress.add_task(escape(config.experiment), total=None, status="")

    def on_progress(p: Any) -> None:
        status = (f"running {p.running}  pruned {p.pruned}  failed {p.failed}"
                  + (f"  best {p.best}" if p.best else ""))
        progress.update(task, completed=p.complete + p.pruned + p.failed, total=p.total,
                        status=status)

    with progress:
        result = api.run(config, resume=resume, tracking_uri=api.tracking_root(root, config),
                         report=False if no_report else None, on_progress=on_progress)
    _summary(result, config)
    if result.status == "KILLED":
        console.print(f"Interrupted. Resume with: sweeps resume {result.sweep_run_id}"
                      + (f" --root {root}" if root else ""))
        return 130
    return 0 if result.status == "FINISHED" else 1


def _summary(result: Any, config: Any) -> None:
    frame = result.trials
    metric = config.metrics[0]
    column = f"metrics.{metric.name}"
    table = Table(title=f"Top trials of {result.experiment} ({result.status.lower()})")
    for name in ("trial", "status", metric.name, "params"):
        table.add_column(name)
    if column in frame.columns:
        done = frame[frame["status"] == "FINISHED"].sort_values(
            column, ascending=metric.goal.value == "minimize")
        for _, row in done.head(5).iterrows():
            params = {c[7:]: row[c] for c in frame.columns
                      if c.startswith("params.") and isinstance(row[c], str)}
            table.add_row(row["run_name"], row["status"], _format(row[column]),
                          ", ".join(f"{k}={_format(v)}" for k, v in params.items()))
    console.print(table)
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    console.print("Trials: " + ", ".join(f"{v} {k.lower()}" for k, v in counts.items()))
    error_column = "tags.trial.error"
    if error_column in frame.columns and frame[error_column].notna().any():
        common = frame[error_column].dropna().value_counts()
        console.print(f"Most common error ({common.iloc[0]}x): {common.index[0]}")
    if result.best_params is not None:
        console.print(f"Best: trial {result.best_trial}, {metric.name} = "
                      f"{_format(result.best_value)}")
    console.print(f"Store:  {result.tracking_uri}  (sweep run {result.sweep_run_id})")
    if result.report_path:
        console.print(f"Report: {result.report_path}")


def cmd_run(args: argparse.Namespace) -> int:
    from sweeps import records
    from sweeps.api import resolve_config
    config = resolve_config(args.config, _overrides(args))
    resume = None
    if args.resume:
        try:
            resume = records.find_sweep(_client(args.root, config), config.experiment,
                                        unfinished=True).info.run_id
        except SweepsError:
            console.print(f"No unfinished sweep of {config.experiment}; starting a new one.")
    return _run_sweep(config, args.root, resume, args.no_report, args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from sweeps import records
    from sweeps.config import parse_config
    client = _client(args.root)
    sweep = records.find_sweep(client, args.sweep, unfinished=True)
    path = client.artifact_dir(sweep.info.run_id) / records.CONFIG_ARTIFACT
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SweepsError(f"sweep {sweep.info.run_id}: cannot read its stored config "
                          f"({path}): {e}") from None
    config = parse_config(stored, source=f"sweep {sweep.info.run_id}")
    return _run_sweep(config, client.tracking_uri, sweep.info.run_id, args.no_report,
                      args.quiet)


def cmd_validate(args: argparse.Namespace) -> int:
    import yaml

    from sweeps.api import resolve_config
    config = resolve_config(args.config, _overrides(args))
    console.print(yaml.safe_dump(config.to_dict(), sort_keys=False).rstrip())
    table = Table(title="Search space")
    for name in ("param", "kind", "range"):
        table.add_column(name)
    for row in config.space.describe():
        table.add_row(*row)
    console.print(table)
    size = config.space.grid_size()
    console.print(f"Grid points: {size if size is not None else 'infinite (continuous params)'}")
    return 0


# -- ls / show ---------------------------------------------------------------------------

def cmd_ls(args: argparse.Namespace) -> int:
    from sweeps import records
    client = _client(args.root)
    if args.experiment is None:
        table = Table(title=f"Experiments in {client.tracking_uri}")
        for name in ("id", "experiment", "runs", "sweeps", "last sweep", "best"):
            table.add_column(name)
        for experiment in client.search_experiments():
            runs = client.search_runs([experiment.experiment_id])
            sweeps = [r for r in runs if records.is_sweep(r)]
            last = sweeps[0] if sweeps else None
            table.add_row(experiment.experiment_id, experiment.name, str(len(runs)),
                          str(len(sweeps)), last.info.status.value if last else "",
                          _best_text(last) if last else "")
        console.print(table)
        return 0
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        raise SweepsError(f"no experiment named {args.experiment!r} in {client.tracking_uri}")
    runs = client.search_runs([experiment.experiment_id])
    children: dict[str, list[Any]] = {}
    for run in runs:
        if run.info.parent_run_id:
            children.setdefault(run.info.parent_run_id, []).append(run)
    tree = Tree(f"{experiment.name} ({len(runs)} runs)")
    listed = {run.info.run_id for run in runs}
    for run in runs:
        if run.info.parent_run_id in listed:
            continue
        kids = children.get(run.info.run_id, [])
        label = f"{run.info.run_id}  {run.info.run_name}  {run.info.status.value}"
        if records.is_sweep(run):
            counts: dict[str, int] = {}
            for kid in kids:
                counts[kid.info.status.value] = counts.get(kid.info.status.value, 0) + 1
            label += "  sweep: " + ", ".join(f"{v} {k.lower()}" for k, v in counts.items())
            label += f"  best {_best_text(run)}" if _best_text(run) else ""
        branch = tree.add(label, highlight=False)
        kids.sort(key=lambda r: r.info.start_time)
        for kid in kids[:args.trials]:
            values = ", ".join(f"{k}={_format(v)}" for k, v in list(kid.data.metrics.items())[:3])
            branch.add(f"{kid.info.run_id}  {kid.info.run_name}  {kid.info.status.value}  "
                       f"{values}", highlight=False)
        if len(kids) > args.trials:
            branch.add(f"... {len(kids) - args.trials} more")
    console.print(tree)
    return 0


def _best_text(sweep: Any) -> str:
    from sweeps import records
    values = sweep.data.tags.get(records.BEST_VALUES)
    if not values:
        return ""
    goals = records.metric_goals(sweep)
    pairs = zip(goals, json.loads(values), strict=False)
    return ", ".join(f"{name}={_format(v)}" for (name, _), v in pairs)


def cmd_show(args: argparse.Namespace) -> int:
    client = _client(args.root)
    run = client.get_run(args.run_id)
    info, data = run.info, run.data
    table = Table(title=f"Run {info.run_id}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for field, value in (("name", info.run_name), ("experiment", info.experiment_id),
                         ("parent", info.parent_run_id or ""), ("status", info.status.value),
                         ("artifacts", info.artifact_uri)):
        table.add_row(field, value)
    console.print(table)
    for title, mapping in (("Params", data.params), ("Metrics (latest)", data.metrics),
                           ("Tags", data.tags)):
        if mapping:
            section = Table(title=title)
            section.add_column("key")
            section.add_column("value")
            for key, value in sorted(mapping.items()):
                section.add_row(key, _format(value))
            console.print(section)
    if data.note:
        console.print("Note:")
        console.print(data.note)
    files = client.list_artifacts(info.run_id)
    if files:
        console.print("Artifacts: " + ", ".join(f.path + ("/" if f.is_dir else "")
                                                for f in files))
    return 0


# -- report / export / ui ----------------------------------------------------------------

def cmd_report(args: argparse.Namespace) -> int:
    from sweeps.report import default_report_path, resolve_sweeps, write_report
    client = _client(args.root)
    ids = resolve_sweeps(client, args.sweeps)
    path = write_report(client, ids, Path(args.output) if args.output
                        else default_report_path(client, ids))
    console.print(f"Report: {path}")
    return 0


def _safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in exported text cells (numbers stay as they are)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def cmd_export(args: argparse.Namespace) -> int:
    from sweeps import records
    client = _client(args.root)
    sweep = records.find_sweep(client, args.sweep)
    frame = client.search_runs_frame([sweep.info.experiment_id],
                                     records.trial_filter(sweep.info.run_id))
    frame = frame.map(_safe_cell)
    if args.output:
        frame.to_csv(args.output, index=False, quoting=csv.QUOTE_NONNUMERIC)
        console.print(f"Wrote {len(frame)} trials to {args.output}")
    else:
        frame.to_csv(sys.stdout, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from sweeps.api import tracking_root
    from sweeps.ui import serve
    from tracking.client import resolve_tracking_uri
    return serve(resolve_tracking_uri(tracking_root(args.root)), host=args.host,
                 port=args.port, allow_edits=args.allow_edits)


COMMANDS = {"run": cmd_run, "resume": cmd_resume, "validate": cmd_validate, "ls": cmd_ls,
            "show": cmd_show, "report": cmd_report, "export": cmd_export, "ui": cmd_ui}


if __name__ == "__main__":
    sys.exit(main())
