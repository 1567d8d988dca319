"""Running one trial's objective, inside whatever process a backend gives it.

Two kinds: a Python callable `module:function` called as `f(params)` or
`f(params, trial)`, and a command line run as a subprocess that reports through the
tracking API or printed event lines (`tracking.lines`). Both end in a `TrialResult`;
nothing an objective does (raise, exit, print garbage) escapes as an exception.
"""

from __future__ import annotations

import ctypes
import difflib
import importlib
import importlib.util
import inspect
import json
import math
import numbers
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sweeps import records
from sweeps.errors import SweepError, TrialPruned
from sweeps.trial import (
    Channel,
    Outcome,
    Trial,
    TrialResult,
    TrialSpec,
    TrialWriter,
    exception_names,
)
from tracking import Metric, RunInfo, RunStatus, TrackingError
from tracking.host import EVENTS_ENV, RUN_ID_ENV, attach, now_ms, parse_line, validation

STREAM_TAIL = 2000
OUTPUT_GRACE = 0.5  # seconds to read what is left of a command's output after it exited
_loaded: dict[tuple[str, str], tuple[Callable[..., Any], bool]] = {}


def run_trial(spec: TrialSpec, channel: Channel, *, own_group: bool = False) -> TrialResult:
    """Run one attempt to its end and say how it ended. `own_group`: this process leads a
    process group of its own (a local worker), so what a command leaves running in it
    once it exits is killed."""
    writer = _RecordingWriter(spec, channel)
    if spec.command is not None:
        result = _run_command(spec, writer, own_group)
    else:
        result = _run_callable(spec, writer, channel)
    try:
        writer.flush()
    except Exception as e:  # noqa: BLE001 - the channel broke: report it as the trial's end
        return TrialResult(Outcome.FAILED, error=f"could not send results: {e}")
    return result


class _RecordingWriter(TrialWriter):
    """A TrialWriter that remembers the last value logged for each metric."""

    def __init__(self, spec: TrialSpec, channel: Channel) -> None:
        super().__init__(spec, channel)
        self.last: dict[str, float] = {}

    def log_metrics(self, metrics: list[Metric] | tuple[Metric, ...]) -> None:
        for m in metrics:
            self.last[m.key] = m.value
        super().log_metrics(metrics)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def load_objective(reference: str, cwd: str) -> tuple[Callable[..., Any], bool]:
    """The function named `module:function` and whether it takes a trial argument."""
    key = (reference, cwd)
    if key not in _loaded:
        module_name, function_name = reference.split(":", 1)
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
        module = importlib.import_module(module_name)
        function = getattr(module, function_name, None)
        if not callable(function):
            raise AttributeError(f"module {module_name!r} has no function {function_name!r}")
        try:
            takes_trial = len(inspect.signature(function).parameters) >= 2
        except (TypeError, ValueError):
            takes_trial = False
        _loaded[key] = (function, takes_trial)
    return _loaded[key]


def check_importable(reference: str, cwd: str) -> None:
    """Fail fast, before any trial, unless `module:function` imports from `cwd` and names a
    function callable as ``f(params)`` or ``f(params, trial)``.

        check_importable("examples.quadratic:train", os.getcwd())
    """
    module_name, _, function_name = reference.partition(":")
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        try:
            found = importlib.util.find_spec(module_name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise SweepError(f"objective: cannot find module {module_name!r} from {cwd} (run "
                             "sweeps from your project folder, where the module can be "
                             "imported)")
        try:
            module = importlib.import_module(module_name)
        except Exception as e:  # noqa: BLE001 - whatever the module raises is the answer
            raise SweepError(f"objective: importing module {module_name!r} failed: "
                             f"{_one_line(e)}") from None
    finally:
        if added:
            sys.path.remove(cwd)
    function = getattr(module, function_name, None)
    if not callable(function):
        names = [n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n])]
        match = difflib.get_close_matches(function_name, names, n=1)
        hint = f" (did you mean {match[0]!r}?)" if match else ""
        raise SweepError(f"objective: module {module_name!r} has no function "
                         f"{function_name!r}{hint}")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return  # a builtin without a signature: the trial will tell
    for args in ((None,), (None, None)):
        try:
            signature.bind(*args)
            return
        except TypeError:
            continue
    raise SweepError(f"objective: {reference} must take (params) or (params, trial); it "
                     f"takes {signature}")


def _is_pruned(error: BaseException) -> bool:
    if isinstance(error, TrialPruned):
        return True
    return type(error).__name__ == "TrialPruned" and type(error).__module__.startswith("optuna")


def _run_callable(spec: TrialSpec, writer: _RecordingWriter, channel: Channel) -> TrialResult:
    info = RunInfo(run_id=spec.key, run_name=f"trial-{spec.number}", experiment_id="",
                   parent_run_id=None, status=RunStatus.RUNNING, start_time=0, end_time=None,
                   artifact_uri=spec.artifact_dir)
    try:
        if spec.study_view is not None:  # an optuna f(trial), wrapped as f(params, trial)
            from sweeps.optuna_compat.worker import load_define_by_run
            function, takes_trial = load_define_by_run(spec)
        else:
            function, takes_trial = load_objective(spec.objective or "", spec.cwd)
    except Exception as e:  # noqa: BLE001 - an import error is the trial's failure
        return TrialResult(Outcome.FAILED, error=f"cannot load objective {spec.objective}: "
                           f"{_one_line(e)}", traceback=traceback.format_exc())
    with attach(info, writer):
        try:
            params = dict(spec.params)
            returned = (function(params, Trial(spec, writer, channel)) if takes_trial
                        else function(params))
        except SystemExit as e:
            return TrialResult(Outcome.FAILED, error=f"objective called sys.exit({e.code!r})",
                               traceback=traceback.format_exc())
        except BaseException as e:  # noqa: BLE001 - everything the objective raises
            if _is_pruned(e):
                return TrialResult(Outcome.PRUNED, values=dict(writer.last))
            if isinstance(e, KeyboardInterrupt):
                raise
            return TrialResult(Outcome.FAILED, error=_one_line(e),
                               traceback=traceback.format_exc(),
                               exception=exception_names(type(e)))
    return _final_values(returned, spec.objective_metrics, writer.last)


def _final_values(returned: Any, names: tuple[str, ...], logged: Mapping[str, float]
                  ) -> TrialResult:
    """The trial's metrics from what the objective returned (or, if None, last logged)."""
    if returned is None:
        values: dict[str, Any] = dict(logged)
    elif isinstance(returned, Mapping):
        values = {**logged, **returned}
    elif isinstance(returned, numbers.Real) and not isinstance(returned, bool):
        if len(names) != 1:
            return TrialResult(Outcome.FAILED, error=f"objective returned one number; "
                               f"a dict with {', '.join(names)} is needed")
        values = {**logged, names[0]: returned}
    else:
        return TrialResult(Outcome.FAILED, error=f"objective returned {type(returned).__name__}; "
                           "expected a number or a dict of metrics")
    clean: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return TrialResult(Outcome.FAILED, error=f"objective returned {value!r} for "
                               f"{key!r}; expected a number")
        clean[str(key)] = float(value)
    missing = [n for n in names if n not in clean]
    if missing:
        return TrialResult(Outcome.FAILED, values=clean, error=(
            f"objective did not report metric {missing[0]!r} (return it, or log it)"))
    bad = [n for n in names if math.isnan(clean[n])]
    if bad:
        return TrialResult(Outcome.FAILED, values=clean, error=f"objective metric {bad[0]!r} "
                           "is NaN")
    return TrialResult(Outcome.COMPLETE, values=clean)


PYTHON_WORDS = ("python", "python3")


def runs_python(command: str) -> bool:
    """Whether the command's Python is sweepbook's own: it starts with `python` or
    `python3`, or names `{python}`."""
    words = command.split()
    return (bool(words) and words[0] in PYTHON_WORDS) or "{python}" in command


def command_argv(command: str, params: Mapping[str, Any], cwd: str) -> list[str]:
    """The argument list of a command line: split like a shell (no shell runs), each
    `{param}` replaced by its value (absent conditional params become empty), and relative
    paths that exist under `cwd` made absolute, since the command runs in its own folder.
    A first word `python` or `python3`, and `{python}`, are the interpreter running
    sweepbook (`sys.executable`), so trials see the packages it sees."""
    values = {"python": sys.executable,
              **{k: "" if v is None else v for k, v in params.items()}}
    argv = []
    for index, token in enumerate(shlex.split(command)):
        if index == 0 and token in PYTHON_WORDS:
            token = sys.executable
        token = token.format_map(_Blank(values))
        candidate = Path(cwd, token)
        if token and not os.path.isabs(token) and not token.startswith("-") and \
                candidate.exists():
            token = str(candidate)
        argv.append(token)
    return argv


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _find_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _find_prctl()  # looked up here: a forked child must not load libraries


def die_with_parent() -> None:
    """In the child: get SIGKILL when the process that started it dies (Linux)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kill_group_members() -> None:
    """SIGKILL every other process in this process's group (Linux; elsewhere nothing)."""
    me = os.getpid()
    try:
        names = [n for n in os.listdir("/proc") if n.isdigit() and int(n) != me]
    except OSError:
        return
    for name in names:
        try:
            with open(f"/proc/{name}/stat") as handle:
                group = int(handle.read().rpartition(")")[2].split()[2])
            if group == me:
                os.kill(int(name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read


def _read_output(stream: Any, out: Any, writer: TrialWriter, workdir: str, err: Any,
                 stop: threading.Event) -> None:
    """Copy a command's stdout to `out` and handle its event lines, until EOF or `stop`."""
    try:
        for line in stream:
            if stop.is_set():
                return
            out.write(line)
            _handle_line(line.rstrip("\n"), writer, workdir, err)
    except (OSError, ValueError):
        return  # the files were closed: the trial has ended


def _run_command(spec: TrialSpec, writer: _RecordingWriter, own_group: bool) -> TrialResult:
    workdir = tempfile.mkdtemp(prefix=f"sweeps-trial-{spec.number}-")
    env = {
        **os.environ, **spec.env,
        RUN_ID_ENV: spec.key, EVENTS_ENV: "stdout",
        "SWEEPS_TRIAL_NUMBER": str(spec.number), "SWEEPS_TRACKING_URI": spec.tracking_uri,
        "SWEEPS_TRIAL_SEED": "" if spec.seed is None else str(spec.seed),
        "SWEEPS_PARAMS": json.dumps(dict(spec.params), default=str),
        "PYTHONPATH": os.pathsep.join(p for p in (spec.cwd, os.environ.get("PYTHONPATH")) if p),
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": workdir,  # the program's temporary files (tracking's too) stay in its folder
    }
    stdout_path = os.path.join(workdir, "stdout.txt")
    stderr_path = os.path.join(workdir, "stderr.txt")
    python = runs_python(spec.command or "")
    interpreter = f" (python: {sys.executable})" if python else ""
    try:
        cwd = workdir
        if spec.wandb is not None:  # a W&B program runs where the sweep was started
            from sweeps.compat import macros  # here: it imports optuna, slow for a worker
            argv, env = macros.prepare_trial(spec.wandb, spec.params, spec.key, workdir, env)
            cwd = spec.cwd if os.path.isdir(spec.cwd) else workdir  # (a Ray node may lack it)
        else:
            argv = command_argv(spec.command or "", spec.params, spec.cwd)
        with open(stdout_path, "w", encoding="utf-8") as out, \
                open(stderr_path, "w", encoding="utf-8") as err:
            process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                errors="replace", bufsize=1,
                preexec_fn=die_with_parent if sys.platform == "linux" else None)
            writer.set_tags({records.PID: str(process.pid),
                             **({records.INTERPRETER: sys.executable} if python else {})})
            writer.flush()
            # The trial ends when the command's own process exits: a child it left
            # running (holding stdout open) gets a short grace, then is killed.
            stop = threading.Event()
            reader = threading.Thread(target=_read_output, daemon=True,
                                      args=(process.stdout, out, writer, workdir, err, stop))
            reader.start()
            code = process.wait()
            reader.join(OUTPUT_GRACE)
            if own_group:
                _kill_group_members()
                reader.join(OUTPUT_GRACE)
            stop.set()
        for path in (stdout_path, stderr_path):
            try:
                writer.log_artifact(path, None)
            except (OSError, ValueError) as e:  # the trial's result stands without them
                writer.set_tags({records.WARNING: f"{os.path.basename(path)} not kept: {e}"})
    except (OSError, ValueError) as e:
        shutil.rmtree(workdir, ignore_errors=True)
        return TrialResult(Outcome.FAILED,
                           error=f"cannot run command{interpreter}: {_one_line(e)}")
    tail = Path(stderr_path).read_text(encoding="utf-8", errors="replace")[-STREAM_TAIL:]
    shutil.rmtree(workdir, ignore_errors=True)
    if code != 0:
        how = (f"killed by signal {-code}" if code < 0 else f"exited with code {code}")
        last = [line for line in tail.splitlines() if line.strip()][-1:] or [""]
        return TrialResult(Outcome.FAILED, values=dict(writer.last),
                           error=f"command {how}{interpreter}"
                           + (f": {last[0][:300]}" if last[0] else ""),
                           traceback=tail or None)
    return _final_values(None, spec.objective_metrics, writer.last)


def _own_file(source: str, workdir: str) -> str | None:
    """`source` when it is a `tracking-*` file the trial wrote in its working folder (a
    plain file, no link to one elsewhere), else None: only such files may be moved."""
    path = os.path.join(workdir, source)
    if os.path.dirname(os.path.realpath(path)) != os.path.realpath(workdir) \
            or not os.path.basename(path).startswith("tracking-"):
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return path if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 else None


def _handle_line(line: str, writer: TrialWriter, workdir: str, err: Any) -> None:
    """Turn one event line from the command into the writer's calls."""
    try:
        event = parse_line(line)
        if event is None:
            return
        if "metrics" in event:
            step, now = event.get("step"), now_ms()
            writer.log_metrics([
                Metric(validation.key(k, "metric key"),
                       validation.metric_value(k, v),
                       validation.timestamp(k, event.get("timestamp"), now),
                       validation.step(k, step))
                for k, v in event["metrics"].items()])
        elif "params" in event:
            writer.log_params({validation.key(k, "param key"):
                               validation.param_value(k, v)
                               for k, v in event["params"].items()})
        elif "tags" in event:
            writer.set_tags({validation.key(k, "tag key"):
                             validation.tag_value(k, v)
                             for k, v in event["tags"].items()})
        elif "note" in event:
            writer.set_note(validation.note(event["note"]))
        elif "artifact" in event:
            writer.log_artifact(os.path.join(workdir, str(event["artifact"])),
                                event.get("artifact_path"))
        elif "artifacts" in event:
            writer.log_artifacts(os.path.join(workdir, str(event["artifacts"])),
                                 event.get("artifact_path"))
        elif "file" in event:
            source = _own_file(str(event.get("from", "")), workdir)
            if source is None:
                refused = (f"file event refused: {str(event.get('from', ''))!r} is not a "
                           "tracking-* file this trial created in its working folder")
                writer.set_tags({records.WARNING: refused})
                err.write(f"sweeps: {refused}\n")
                return
            with open(source, "rb") as handle:
                writer.write_artifact(str(event["file"]), handle.read())
            os.unlink(source)
    except (TrackingError, OSError, ValueError, TypeError) as e:
        err.write(f"sweeps: ignored event line: {_one_line(e)}\n")
