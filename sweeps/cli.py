"""The `sweeps` command: run | resume | extend | rerun-failed | recheck | reproduce | pause |
stop | cancel | validate | ls | show | report | suggest | export | import | ui | promote |
models (ls | show | alias | history).

Every error is one line on stderr and exit code 2; an interrupted sweep exits 130.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from sweeps.errors import SweepsError
from tracking import RunStatus

console = Console(markup=False, emoji=False, highlight=False)
MIN_ID_PREFIX = 6  # shortest run-id prefix accepted for a run


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


SWEEP_HELP = "sweep run id, id prefix or name (or experiment name: its latest sweep)"


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("sweepbook", "wandb"),
                        help="the config's format (default: a W&B sweep file is found by its "
                             "keys: method and parameters, no objective)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sweeps", description="Hyperparameter sweeps with tracking.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run a sweep from a YAML config")
    run.add_argument("config", help="path to the sweep config (YAML)")
    _add_overrides(run)
    _add_format(run)
    run.add_argument("--count", type=_positive_int, dest="trials",
                     help="as W&B's agent --count: the same as --trials")
    run.add_argument("--resume", action="store_true",
                     help="continue the latest sweep of the config's experiment (refused when "
                          "it finished, unless --new)")
    run.add_argument("--new", action="store_true",
                     help="with --resume: start a new sweep when the latest one finished")
    run.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_root(run)

    resume = commands.add_parser("resume", help="continue an interrupted sweep, or un-pause "
                                                "a paused one")
    resume.add_argument("sweep", help="sweep run id, id prefix or name (or experiment name: "
                                      "its latest unfinished sweep)")
    resume.add_argument("--no-report", action="store_true")
    resume.add_argument("--quiet", action="store_true")
    _add_root(resume)

    extend = commands.add_parser("extend", help="add trials to a sweep that ended, in the "
                                                "same parent run (the sampler sees them all)")
    extend.add_argument("sweep", help=SWEEP_HELP)
    extend.add_argument("--trials", type=_positive_int, required=True,
                        help="how many trials to add")
    rerun = commands.add_parser("rerun-failed", help="run a sweep's failed trials again with "
                                                     "the same params, each linked to the "
                                                     "run that failed")
    rerun.add_argument("sweep", help=SWEEP_HELP)
    for again in (extend, rerun):
        again.add_argument("--no-report", action="store_true")
        again.add_argument("--quiet", action="store_true")
        _add_root(again)

    recheck = commands.add_parser("recheck", help="re-run a sweep's best trials with new "
                                                  "seeds: is the winner luck?")
    recheck.add_argument("sweep", help=SWEEP_HELP)
    recheck.add_argument("--top", type=_positive_int, default=3,
                         help="how many of the best trials (default 3)")
    recheck.add_argument("--repeats", type=_positive_int, default=5,
                         help="runs of each, with new seeds (default 5)")
    recheck.add_argument("--seed-param", metavar="NAME",
                         help="the param that is the seed (default: the config's seed: "
                              "block; objectives get the seed as Trial.seed either way)")
    recheck.add_argument("--no-report", action="store_true",
                         help="do not rewrite the sweep's report")
    _add_root(recheck)

    reproduce = commands.add_parser("reproduce", help="re-run one trial from what the store "
                                                      "recorded, and compare")
    reproduce.add_argument("run_id", metavar="RUN", help="the trial's run id or id prefix")
    _add_root(reproduce)

    for verb, text in (("pause", "no new trials until `sweeps resume` (running ones finish)"),
                       ("stop", "no new trials; running ones finish, then the sweep ends"),
                       ("cancel", "kill the running trials and end the sweep KILLED")):
        control = commands.add_parser(verb, help=f"a running sweep: {text}")
        control.add_argument("sweep", help=SWEEP_HELP)
        _add_root(control)

    validate = commands.add_parser("validate", help="check a config and show it resolved")
    validate.add_argument("config")
    _add_overrides(validate)
    _add_format(validate)

    ls = commands.add_parser("ls", help="list experiments, or the runs of one")
    ls.add_argument("experiment", nargs="?")
    ls.add_argument("--trials", type=_positive_int, default=10,
                    help="trials shown under each sweep (default 10)")
    _add_root(ls)

    show = commands.add_parser("show", help="show one run")
    show.add_argument("run_id", metavar="RUN", help="run id, id prefix (6+ characters) or name")
    _add_root(show)

    suggest = commands.add_parser(
        "suggest", help="print a narrowed space: block for the next sweep, ready to paste")
    suggest.add_argument("sweep", metavar="EXPERIMENT_OR_SWEEP",
                         help="experiment name (its latest sweep), or sweep id, id prefix, name")
    _add_root(suggest)

    report = commands.add_parser("report", help="write the HTML report of sweeps")
    report.add_argument("sweeps", nargs="+", metavar="EXPERIMENT_OR_SWEEP",
                        help="experiment name (its latest sweep), or sweep id, id prefix, name")
    report.add_argument("-o", "--output",
                        help="output file (default reports/<experiment>/<sweep>-<id>.html, "
                             "copied to reports/<experiment>.html for the latest sweep)")
    _add_root(report)

    export = commands.add_parser(
        "export", help="write a sweep's trials as CSV or Parquet, or copy them into MLflow")
    export.add_argument("sweep", metavar="EXPERIMENT_OR_SWEEP")
    export.add_argument("-o", "--output",
                        help="output file; .parquet writes Parquet (default: CSV on stdout)")
    export.add_argument("--format", choices=("wide", "long"), default="wide",
                        help="wide: one row per trial; long: one row per metric point "
                             "(run, key, step, timestamp, value)")
    export.add_argument("--to", metavar="MLFLOW_URI",
                        help="copy the sweep and its trials into MLflow: http://host:port, "
                             "sqlite:///mlflow.db or file:/path/to/mlruns")
    export.add_argument("--experiment", metavar="NAME",
                        help="the MLflow experiment (default: the sweep's experiment name)")
    export.add_argument("--to-optuna", metavar="STORAGE_URL",
                        help="add the sweep's trials to an optuna study: sqlite:///optuna.db "
                             "(any optuna RDB URL) or a journal file's path")
    export.add_argument("--study", metavar="NAME",
                        help="the optuna study (default: the sweep's name)")
    _add_root(export)

    imports = commands.add_parser(
        "import", help="copy MLflow experiments, or optuna studies as sweeps, into the store")
    imports.add_argument("source", choices=("mlflow", "optuna"))
    imports.add_argument("uri", metavar="URI",
                         help="mlflow: http://host:port, sqlite:///mlflow.db or "
                              "file:/path/to/mlruns; optuna: sqlite:///optuna.db (any optuna "
                              "RDB URL) or a journal file's path")
    imports.add_argument("--experiment", action="append", default=[], metavar="NAME",
                         help="mlflow: an experiment to import (repeatable; default: every "
                              "one)")
    imports.add_argument("--study", action="append", default=[], metavar="NAME",
                         help="optuna: a study to import, as a sweep in the experiment of "
                              "that name (repeatable; default: every one)")
    _add_root(imports)

    promote = commands.add_parser(
        "promote", help="register a sweep's best trial's model and set an alias on it")
    promote.add_argument("sweep", metavar="EXPERIMENT_OR_SWEEP",
                         help="experiment name (its latest sweep), or sweep id, id prefix, name")
    promote.add_argument("--name", help="registered model name (default: the experiment's)")
    promote.add_argument("--alias", default="champion", help="alias to set (default champion)")
    promote.add_argument("--model-path", default="model",
                         help="where the trial logged its model (default model)")
    promote.add_argument("--trial", type=int, metavar="N",
                         help="promote trial N instead of the best (needed for several "
                              "objectives)")
    promote.add_argument("--reason", help="why, kept in the alias history")
    _add_root(promote)

    models = commands.add_parser("models", help="the model registry: ls | show | alias | history")
    verbs = models.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    _add_root(verbs.add_parser("ls", help="list registered models"))
    models_show = verbs.add_parser("show", help="a registered model and its versions")
    models_show.add_argument("name")
    _add_root(models_show)
    alias = verbs.add_parser("alias", help="point an alias at a version (moves it if set)")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version")
    alias.add_argument("--reason", help="why, kept in the alias history")
    _add_root(alias)
    history = verbs.add_parser("history", help="every alias move of a registered model")
    history.add_argument("name")
    history.add_argument("--alias", help="only this alias")
    _add_root(history)

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
    from tracking import TrackingError
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning
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


def _warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
    """A warning as one line on stderr (a W&B file's notes, for one)."""
    print("sweeps: warning: " + " ".join(str(message).split()), file=sys.stderr)


def _error(message: str) -> None:
    """One line on stderr, never wrapped."""
    print("sweeps: error: " + " ".join(message.split()), file=sys.stderr)


# -- helpers -----------------------------------------------------------------------------

def _client(root: str | None, config: Any = None) -> Any:
    """A client of an existing store (commands that only read never create one)."""
    from sweeps.api import tracking_root
    from tracking import Client, StoreError
    from tracking.store import open_store
    uri = tracking_root(root, config)
    try:
        open_store(uri, read_only=True)  # a read-only open never creates a store
    except StoreError as e:
        # e names the store without its password; an unreachable server is not "no sweep yet"
        hint = "" if "://" in str(uri) else " (run a sweep first, or pass --root)"
        raise SweepsError(f"no tracking store at this root: {e}{hint}") from None
    return Client(uri)


def find_run(client: Any, text: str, *, sweep: bool = False, unfinished: bool = False) -> Any:
    """The run `text` names: a run id, a unique run-id prefix (>= 6 characters) or a run name.

    With `sweep`, only sweeps match and an experiment name means its latest sweep (its latest
    unfinished one with `unfinished`). No match or several matches raise one-line errors;
    several list the candidates.

        find_run(client, "3f9a2c")  # the run whose id starts with 3f9a2c
    """
    from sweeps import records
    from tracking import NotFoundError
    try:
        return _checked(client.get_run(text), sweep)
    except NotFoundError:
        pass
    if sweep and client.get_experiment_by_name(text) is not None:
        return records.find_sweep(client, text, unfinished=unfinished)
    quoted = text.replace("\\", "\\\\").replace("'", "\\'")
    clauses = [f"attributes.run_name = '{quoted}'"]
    if len(text) >= MIN_ID_PREFIX and text.isalnum():
        clauses.append(f"attributes.run_id LIKE '{text}%'")
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(experiments, " OR ".join(clauses)) if experiments else []
    if sweep:
        found = [run for run in found if records.is_sweep(run)]
    what = "sweep" if sweep else "run"
    if not found:
        short = len(text) < MIN_ID_PREFIX and text.isalnum()
        raise SweepsError(f"no {what} with id, id prefix or name {text!r} in "
                          f"{client.store.root}" + (f" (an id prefix needs {MIN_ID_PREFIX}+ "
                                                      "characters)" if short else ""))
    if len(found) > 1:
        listed = ", ".join(f"{run.info.run_id} ({run.info.run_name})" for run in found[:10])
        more = f" and {len(found) - 10} more" if len(found) > 10 else ""
        raise SweepsError(f"{text!r} matches {len(found)} {what}s: {listed}{more}; give "
                          "one of the ids")
    return _checked(found[0], sweep)


def _checked(run: Any, sweep: bool) -> Any:
    from sweeps import records
    if sweep and not records.is_sweep(run):
        raise SweepsError(f"run {run.info.run_id} ({run.info.run_name}) is not a sweep")
    return run


def _preflight(config: Any) -> None:
    """Print the config's notes (stderr) and check that its objective function imports."""
    from sweeps.objectives import check_importable
    for note in config.notes:
        print("sweeps: note: " + note, file=sys.stderr)
    if config.objective.callable:
        check_importable(config.objective.callable, os.getcwd())


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
               quiet: bool, start: Callable[..., Any] | None = None) -> int:
    """Run a sweep (or `start(on_progress, on_end)`, a `sweeps.again` session) with a
    progress bar, then print its summary; returns the exit code."""
    from sweeps import api
    from sweeps.control import CANCELLED
    from sweeps.progress import ProgressBar

    bar = ProgressBar(config.experiment, console=console, disabled=quiet)
    ended: list[Any] = []

    def on_end(result: Any) -> None:  # the summary first, then the report is written
        bar.stop()
        ended.append(result)
        _summary(result, config)
        if not no_report and config.report_enabled:
            console.print("Writing report...")

    try:
        result = start(bar.update, on_end) if start is not None else api.run(
            config, resume=resume, tracking_uri=api.tracking_root(root, config),
            report=False if no_report else None, on_progress=bar.update, on_end=on_end)
    finally:
        if not ended:
            bar.stop()
    if not ended:
        _summary(result, config)
    elif result.report_path:
        console.print(f"Report: {result.report_path}")
    if result.status == "KILLED" and _stop_reason(result) == CANCELLED:
        console.print("Cancelled: its running trials were killed.")
        return 1
    if result.status == "KILLED":
        console.print(f"Interrupted. Resume with: sweeps resume {result.sweep_run_id}"
                      + (f" --root {root}" if root else ""))
        return 130
    if result.status == "FAILED" and result.error:
        _error(result.error)
    return 0 if result.status == "FINISHED" else 1


def _stop_reason(result: Any) -> str:
    from sweeps import records
    from tracking import Client
    sweep = Client(result.tracking_uri).get_run(result.sweep_run_id)
    return records.SweepRecord.from_run(sweep).stop_reason


def _summary(result: Any, config: Any) -> None:
    from sweeps import records
    frame = result.trials
    metric = config.metrics[0]
    column = f"metrics.{metric.name}"
    table = Table(title=f"Top trials of {result.experiment} ({result.status.lower()})")
    for name in ("trial", "status", metric.name, "params"):
        table.add_column(name)
    if column in frame.columns:
        done = frame[frame["status"] == "FINISHED"].sort_values(
            column, ascending=metric.goal.value == "minimize", kind="stable")
        for _, row in done.head(5).iterrows():
            params = {c[7:]: row[c] for c in frame.columns
                      if c.startswith("params.") and isinstance(row[c], str)}
            table.add_row(row["run_name"], row["status"], _format(row[column]),
                          ", ".join(f"{k}={_format(v)}" for k, v in params.items()))
    console.print(table)
    final = frame.drop_duplicates(f"tags.{records.NUMBER}", keep="last") if len(frame) \
        else frame  # each trial as its last attempt ended (a failure re-run is not counted)
    counts = final["status"].value_counts().to_dict() if len(final) else {}
    retried = len(frame) - len(final)
    console.print("Trials: " + ", ".join(f"{v} {k.lower()}" for k, v in counts.items())
                  + (f" ({retried} earlier attempt{'s' * (retried != 1)} run again)"
                     if retried else ""))
    error_column = f"tags.{records.ERROR}"
    if error_column in final.columns and final[error_column].notna().any():
        common = final[error_column].dropna().value_counts()
        console.print(f"Most common error ({common.iloc[0]}x): {common.index[0]}")
    if result.best_params is not None:
        console.print(f"Best: trial {result.best_trial}, {metric.name} = "
                      f"{_format(result.best_value)}")
    from tracking.store import open_store
    store = open_store(result.tracking_uri).root  # no password in what is printed
    console.print(f"Store:  {store}  (sweep run {result.sweep_run_id})")
    if result.promotion is not None:
        _promoted(result.promotion)
    if result.report_path:
        console.print(f"Report: {result.report_path}")


def cmd_run(args: argparse.Namespace) -> int:
    from sweeps import records
    from sweeps.api import resolve_config
    config = resolve_config(args.config, _overrides(args), format=args.format)
    _preflight(config)
    resume = None
    if args.resume:
        try:
            latest = records.find_sweep(_client(args.root, config), config.experiment)
        except SweepsError:  # no store, no experiment or no sweep yet
            latest = None
        if latest is None:
            console.print(f"No sweep of {config.experiment} yet; starting a new one.")
        elif latest.info.status is not RunStatus.FINISHED:  # FAILED, KILLED or cut off
            resume = latest.info.run_id
        elif not args.new:
            raise SweepsError(f"the latest sweep of {config.experiment!r}, "
                              f"{latest.info.run_name} ({latest.info.run_id}), finished: "
                              "nothing to resume (add --new to start a new sweep)")
        else:
            console.print(f"The latest sweep of {config.experiment} finished; starting a new "
                          "one (--new).")
    return _run_sweep(config, args.root, resume, args.no_report, args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from sweeps import control, records
    from sweeps.config import parse_config
    client = _client(args.root)
    sweep = find_run(client, args.sweep, sweep=True, unfinished=True)
    if sweep.info.status is RunStatus.FINISHED:
        raise SweepsError(f"sweep {sweep.info.run_name} ({sweep.info.run_id}) finished: "
                          "nothing to resume")
    if control.paused(sweep):  # live and paused: un-pause it
        console.print(control.request(client, sweep, control.Control.RUN))
        return 0
    config = parse_config(records.read_config(client, sweep),
                          source=f"sweep {sweep.info.run_id}")
    return _run_sweep(config, client.tracking_uri, sweep.info.run_id, args.no_report,
                      args.quiet)


def cmd_again(args: argparse.Namespace) -> int:
    """`sweeps extend SWEEP --trials N` and `sweeps rerun-failed SWEEP`."""
    from sweeps import again
    client = _client(args.root)
    sweep = find_run(client, args.sweep, sweep=True)
    config = again.stored_config(client, sweep)
    report = False if args.no_report else None
    if args.command == "extend":
        def start(on_progress: Callable[[Any], None], on_end: Callable[[Any], None]) -> Any:
            return again.extend(sweep.info.run_id, args.trials, tracking_uri=client.tracking_uri,
                                report=report, on_progress=on_progress, on_end=on_end)
    else:
        def start(on_progress: Callable[[Any], None], on_end: Callable[[Any], None]) -> Any:
            return again.rerun_failed(sweep.info.run_id, tracking_uri=client.tracking_uri,
                                      report=report, on_progress=on_progress, on_end=on_end)
    return _run_sweep(config, client.tracking_uri, sweep.info.run_id, args.no_report,
                      args.quiet, start=start)


def cmd_recheck(args: argparse.Namespace) -> int:
    """`sweeps recheck SWEEP`: run the re-checks, then print the verdict."""
    from sweeps import again
    client = _client(args.root)
    sweep = find_run(client, args.sweep, sweep=True)
    config = again.stored_config(client, sweep)
    if not (args.seed_param or config.seed_param):
        console.print("No seed param (--seed-param or the config's seed: block): each repeat "
                      "gets a new seed as Trial.seed; an objective that ignores it repeats itself.")
    again.recheck(sweep.info.run_id, top=args.top, repeats=args.repeats,
                  seed_param=args.seed_param, tracking_uri=client.tracking_uri, report=False)
    from sweeps.report.data import load_sweep
    from sweeps.verdict import sweep_verdict
    _print_recheck(sweep_verdict(load_sweep(client, sweep.info.run_id)))
    if config.report_enabled and not args.no_report:
        from sweeps.report import write_sweep_report
        path = write_sweep_report(client, sweep.info.run_id, config.report_path)
        console.print(f"Report: {escape(str(path))} (with the re-check)")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """`sweeps reproduce RUN`: warnings first, then the original and new values."""
    from sweeps import again
    client = _client(args.root)
    trial = find_run(client, args.run_id)

    def warn(changes: list[str]) -> None:
        for line in changes:
            console.print(f"warning: {escape(line)}", markup=True)

    result = again.reproduce(trial.info.run_id, tracking_uri=client.tracking_uri,
                             on_changes=warn)
    if result.rerun is None:
        raise SweepsError(f"the re-run of {trial.info.run_id} was not recorded")
    status = result.rerun.info.status.value
    table = Table(title=f"Reproduction of {trial.info.run_name} ({trial.info.run_id}) as run "
                        f"{result.rerun.info.run_id}: {status}")
    for name in ("metric", "original", "reproduced", "difference"):
        table.add_column(name)
    for metric, (before, after) in result.values.items():
        table.add_row(escape(metric), repr(before), repr(after), repr(after - before))
    console.print(table)
    from sweeps import records
    error = result.rerun.data.tags.get(records.ERROR)
    if status != "FINISHED":
        raise SweepsError(f"the re-run ended {status}" + (f": {error}" if error else ""))
    console.print("Reproduced bit for bit." if result.exact else
                  "Not the same: the objective is not deterministic with this seed, or "
                  "something above changed.")
    return 0 if result.exact else 1


def cmd_control(args: argparse.Namespace) -> int:
    """`sweeps pause | stop | cancel SWEEP`: one line saying what the sweep was asked."""
    from sweeps.control import Control, request
    client = _client(args.root)
    sweep = find_run(client, args.sweep, sweep=True)
    console.print(request(client, sweep, Control(args.command)))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    import yaml

    from sweeps.api import resolve_config
    config = resolve_config(args.config, _overrides(args), format=args.format)
    _preflight(config)
    console.print(yaml.safe_dump(config.to_dict(), sort_keys=False).rstrip())
    if not len(config.space):
        console.print("Search space: define-by-run (the objective's trial.suggest_* calls "
                      "ask the study for each param)")
        return 0
    table = Table(title="Search space")
    for name in ("param", "kind", "range"):
        table.add_column(name)
    for row in config.space.describe():
        table.add_row(*row)
    console.print(table)
    size = config.space.grid_size()
    console.print(f"Grid points: {size if size is not None else 'infinite (continuous params)'}")
    if config.objective.wandb is not None:
        console.print(f"W&B command (macros expanded per trial): {config.objective.command}")
    return 0


# -- ls / show ---------------------------------------------------------------------------

def cmd_ls(args: argparse.Namespace) -> int:
    from sweeps import records
    from sweeps.control import state_text
    client = _client(args.root)
    if args.experiment is None:
        table = Table(title=f"Experiments in {client.store.root}")
        for name in ("id", "experiment", "runs", "sweeps", "last sweep", "best"):
            table.add_column(name)
        for experiment in client.search_experiments():
            runs = client.search_runs([experiment.experiment_id])
            sweeps = [r for r in runs if records.is_sweep(r)]
            last = sweeps[0] if sweeps else None
            table.add_row(experiment.experiment_id, experiment.name, str(len(runs)),
                          str(len(sweeps)), state_text(last) if last else "",
                          _best_text(last) if last else "")
        console.print(table)
        return 0
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        raise SweepsError(f"no experiment named {args.experiment!r} in {client.store.root}")
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
        label = f"{run.info.run_id}  {run.info.run_name}  {state_text(run)}"
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
    record = records.SweepRecord.from_run(sweep)
    pairs = zip(record.goals, record.best_values or [], strict=False)
    return ", ".join(f"{name}={_format(v)}" for (name, _), v in pairs)


def cmd_show(args: argparse.Namespace) -> int:
    client = _client(args.root)
    run = find_run(client, args.run_id)
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
    from sweeps import records
    if records.is_sweep(run):
        from sweeps.failures import group_failures
        from sweeps.report.data import failed_attempts, load_sweep
        from sweeps.verdict import sweep_verdict
        sweep = load_sweep(client, info.run_id)
        attempts = failed_attempts(sweep)
        groups = group_failures(attempts)
        if groups:
            failures = Table(title=f"Failures ({len(attempts)} attempts)")
            for column in ("error", "first message", "trials (params)"):
                failures.add_column(column)
            for group in groups:
                failures.add_row(group.title, group.example, "\n".join(
                    f"{a.number}" + (f" (attempt {a.attempt})" if a.attempt > 1 else "")
                    + ": " + ", ".join(f"{k}={_format(v)}" for k, v in a.params.items())
                    for a in group.attempts))
            console.print(failures)
        _print_recheck(sweep_verdict(sweep))
    return 0


def _print_recheck(verdict: Any) -> None:
    """A sweep's re-check table and verdict sentence (`sweeps.verdict.Verdict`), if any."""
    from sweeps.verdict import TABLE_HEAD
    if verdict is None:
        return
    recheck = Table(title=f"Re-check ({escape(verdict.metric)}, {verdict.goal})")
    for column in TABLE_HEAD:
        recheck.add_column(column, justify="left" if column == "trial" else "right")
    for trial in verdict.trials:
        recheck.add_row(*(escape(cell) for cell in trial.cells()))
    console.print(recheck)
    console.print(escape(verdict.sentence))


# -- report / export / ui ----------------------------------------------------------------

@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused, for a short command (`sweeps report`).

    Its passes over all that the report's imports and frames create took 0.4 s of 3 s at
    300 trials; the cyclic garbage they would have freed is 5 MB there (13 MB at 10,000).
    At the end, freeze + unfreeze moves what the command made to the oldest generation at
    once, where re-enabling alone would start a young collection over all of it (0.2 s);
    not where the caller has frozen objects of its own.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def cmd_report(args: argparse.Namespace) -> int:
    with _collector_paused():
        from sweeps.report import default_report_path, write_report, write_sweep_report
        client = _client(args.root)
        ids = [find_run(client, name, sweep=True).info.run_id for name in args.sweeps]
        if len(ids) == 1:
            path = write_sweep_report(client, ids[0], args.output)
        else:
            path = write_report(client, ids, args.output or default_report_path(client, ids))
    console.print(f"Report: {path}")
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    from sweeps.advice import boundary_warnings, space_yaml, suggest_space
    from sweeps.report.data import load_sweep, ranked_numbers
    client = _client(args.root)
    data = load_sweep(client, find_run(client, args.sweep, sweep=True).info.run_id)
    if not data.distributions:
        raise SweepsError(f"sweep {data.run_id} has no recorded params to suggest from")
    if not ranked_numbers(data):
        raise SweepsError(f"sweep {data.run_id} has no completed trial to suggest from")
    lines = [f"# from {data.label}: the top quartile's ranges, widened where the best "
             "trials touch an edge"]
    lines += [f"# {warning.message}" for warning in boundary_warnings(data)]
    print("\n".join(lines) + "\n" + space_yaml(suggest_space(data)), end="")
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
    sweep = find_run(client, args.sweep, sweep=True)
    where = ([sweep.info.experiment_id], records.trial_filter(sweep.info.run_id))
    if args.to_optuna:
        from sweeps.optuna_compat.transfer import export_sweep
        done = export_sweep(client, sweep, args.to_optuna, args.study)
        console.print(f"Exported to {args.to_optuna} (study {done.experiment}): "
                      f"{done.created} trials added")
        return 0
    if args.to:
        return _export_to_mlflow(client, [sweep, *client.search_runs(*where)], args.to,
                                 args.experiment or client.get_experiment(
                                     sweep.info.experiment_id).name)
    if args.format == "long":
        import pandas as pd
        trials = [run.info.run_id for run in client.search_runs(*where)]
        frame = pd.DataFrame.from_records(
            [(run_id, m.key, m.step, m.timestamp, m.value)
             for run_id, m in client.get_metric_histories(trials)],
            columns=["run", "key", "step", "timestamp", "value"])
    else:
        frame = client.search_runs_frame(*where)
    if args.output and args.output.endswith(".parquet"):
        frame.to_parquet(args.output, index=False)
    else:
        frame = frame.map(_safe_cell)
        frame.to_csv(args.output or sys.stdout, index=False, quoting=csv.QUOTE_NONNUMERIC)
    if args.output:
        what = "metric points" if args.format == "long" else "trials"
        console.print(f"Wrote {len(frame)} {what} to {args.output}")
    return 0


def _transfer_progress(description: str) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(),
                    console=Console(stderr=True, markup=False, emoji=False, highlight=False))


def _export_to_mlflow(client: Any, runs: list[Any], uri: str, experiment: str) -> int:
    from sweeps.mlflow_bridge import connect, export_runs
    target = connect(uri)
    with _transfer_progress("export") as progress:
        task = progress.add_task("export", total=len(runs))
        done = export_runs(client, runs, target, experiment,
                           progress=lambda n, total: progress.update(task, completed=n))
    console.print(f"Exported to {uri} (experiment {done.experiment}): {done.created} runs "
                  f"created, {done.updated} updated, {done.points} metric points added")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from sweeps.api import tracking_root
    from sweeps.mlflow_bridge import connect, import_runs
    from tracking import Client
    if args.source == "optuna":
        return _import_optuna(args)
    source = connect(args.uri)
    client = Client(tracking_root(args.root))
    with _transfer_progress("import") as progress:
        task = progress.add_task("import", total=None)
        done = import_runs(client, source, args.experiment,
                           progress=lambda n, total: progress.update(task, completed=n,
                                                                     total=total))
    client.flush()
    for transfer in done:
        console.print(f"Imported {transfer.experiment}: {transfer.created} runs created, "
                      f"{transfer.updated} updated, {transfer.points} metric points added")
    if not done:
        console.print(f"No experiments at {args.uri}")
    return 0


def _import_optuna(args: argparse.Namespace) -> int:
    from sweeps.api import tracking_root
    from sweeps.optuna_compat.transfer import import_studies, open_storage
    from tracking import Client
    if args.experiment:
        raise SweepsError("--experiment is for mlflow imports; name optuna studies with "
                          "--study")
    storage = open_storage(args.uri)  # checked before a store is made
    done = import_studies(Client(tracking_root(args.root)), storage, args.study)
    for transfer in done:
        console.print(f"Imported study {transfer.experiment}: {transfer.created} runs "
                      f"created, {transfer.updated} updated, {transfer.points} metric points "
                      "added")
    if not done:
        console.print(f"No studies at {args.uri}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from sweeps.api import tracking_root
    from sweeps.ui import serve
    from tracking.store import resolve_uri
    return serve(resolve_uri(tracking_root(args.root)), host=args.host,
                 port=args.port, allow_edits=args.allow_edits)


# -- the model registry ------------------------------------------------------------------

def _promoted(promotion: Any) -> None:
    console.print(f"Registered: {promotion.name} version {promotion.version} "
                  f"@{promotion.alias} (trial {promotion.trial}, {promotion.model_uri})")


def cmd_promote(args: argparse.Namespace) -> int:
    from sweeps.promote import promote
    client = _client(args.root)
    sweep = find_run(client, args.sweep, sweep=True)
    _promoted(promote(client, sweep.info.run_id, name=args.name, alias=args.alias,
                      model_path=args.model_path, trial=args.trial, reason=args.reason))
    return 0


def _when(ms: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def cmd_models(args: argparse.Namespace) -> int:
    client = _client(args.root)
    if args.verb == "ls":
        table = Table(title=f"Registered models in {client.store.root}")
        for name in ("name", "latest", "aliases", "updated", "description"):
            table.add_column(name)
        for model in client.search_registered_models():
            table.add_row(model.name, str(model.latest_version or ""),
                          ", ".join(f"{a}={v}" for a, v in model.aliases.items()),
                          _when(model.last_updated_timestamp), model.description)
        console.print(table)
    elif args.verb == "show":
        model = client.get_registered_model(args.name)
        table = Table(title=f"{model.name}: versions" + (f" ({model.description})"
                                                         if model.description else ""))
        for name in ("version", "aliases", "created", "run", "source", "lineage"):
            table.add_column(name)
        from sweeps.promote import LINEAGE
        quoted = model.name.replace("'", "''")
        for version in client.search_model_versions(f"name = '{quoted}'"):
            lineage = ", ".join(f"{k[len(LINEAGE):]}={v}" for k, v in version.tags.items()
                                if k.startswith(LINEAGE))
            table.add_row(str(version.version), ", ".join(version.aliases),
                          _when(version.creation_timestamp), version.run_id or "",
                          version.source, lineage)
        console.print(table)
    elif args.verb == "alias":
        client.set_registered_model_alias(args.name, args.alias, args.version,
                                          reason=args.reason)
        console.print(f"{args.name}@{args.alias} -> version {args.version}")
    else:
        table = Table(title=f"Alias history of {args.name}")
        for name in ("when", "alias", "from", "to", "by", "reason"):
            table.add_column(name)
        for move in client.get_alias_history(args.name, args.alias):
            table.add_row(_when(move.timestamp), move.alias, str(move.from_version or "-"),
                          str(move.to_version or "-"), move.user, move.reason)
        console.print(table)
    return 0


COMMANDS = {"run": cmd_run, "resume": cmd_resume, "pause": cmd_control, "stop": cmd_control,
            "cancel": cmd_control, "validate": cmd_validate, "ls": cmd_ls,
            "show": cmd_show, "report": cmd_report, "suggest": cmd_suggest,
            "export": cmd_export, "import": cmd_import, "ui": cmd_ui, "promote": cmd_promote,
            "models": cmd_models, "extend": cmd_again, "rerun-failed": cmd_again,
            "recheck": cmd_recheck, "reproduce": cmd_reproduce}


if __name__ == "__main__":
    sys.exit(main())
