"""The public API for hosts: code that runs someone else's code and logs on its behalf,
like a sweep's trial workers. Everything a host needs, in one place:

- `RunWriter`, the base of a host's own writer, and `attach(info, writer)`, which makes a
  run the active run of the fluent API for a block, logging through that writer;
- the `@tracking {json}` event-line protocol a subprocess in any language prints
  (`RUN_ID_ENV`, `EVENTS_ENV`, `parse_line`), and `validation`, the checks that turn an
  event's values into what a writer receives;
- the artifact folder operations (each path is checked to stay inside the run's folder);
- `now_ms()`, the timestamps the store keeps, and `capture_environment(cwd)`, the `sys.*`
  tags (git state, Python, key libraries) a run records, as they are now.

    from tracking.host import RunWriter, attach
    with attach(run_info, MyWriter(run_info.run_id)):
        objective(params)   # tracking.log_metric(...) inside lands in MyWriter
"""

from tracking import validation
from tracking.artifacts import (
    clean_artifact_path,
    list_artifacts,
    log_artifact,
    log_artifacts,
    open_artifact,
    resolve_in_run,
    write_artifact,
)
from tracking.client import now_ms
from tracking.environment import capture as capture_environment
from tracking.fluent import attach
from tracking.lines import EVENTS_ENV, RUN_ID_ENV, parse_line
from tracking.writer import RunWriter

__all__ = [
    "EVENTS_ENV", "RUN_ID_ENV", "RunWriter", "attach", "capture_environment",
    "clean_artifact_path", "list_artifacts",
    "log_artifact", "log_artifacts", "now_ms", "open_artifact", "parse_line", "resolve_in_run",
    "validation", "write_artifact",
]
