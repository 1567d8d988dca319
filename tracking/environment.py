"""What is captured automatically when a run starts: source version and environment.

Everything lands in tags under the reserved `sys.` prefix. Values are computed once per
process (the git state and installed libraries do not change under a running program).
"""

from __future__ import annotations

import functools
import getpass
import os
import platform
import subprocess
import sys

PREFIX = "sys."
KEY_LIBRARIES = ("numpy", "pandas", "scikit-learn", "optuna", "torch", "plotly", "ray")


def _git(*args: str, cwd: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=8)
def _source(cwd: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit:
        tags["git.commit"] = commit
        tags["git.branch"] = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd) or ""
        status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
        tags["git.dirty"] = str(bool(status))
    return tags


@functools.lru_cache(maxsize=1)
def _environment() -> dict[str, str]:
    tags = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "host": platform.node(),  # no socket import: os.uname's node name
    }
    try:
        tags["user"] = getpass.getuser()
    except (KeyError, OSError):
        pass
    installed = _installed_versions()
    for name in KEY_LIBRARIES:
        version = installed.get(name.replace("-", "_"))
        if version:
            tags[f"lib.{name}"] = version
    return tags


def _installed_versions() -> dict[str, str]:
    """{normalized name: version} from the `name-version.dist-info` (or `.egg-info`) folder
    names on sys.path, first one wins as for imports: one folder listing per path entry,
    where importlib.metadata reads every package's metadata file (~40 ms for 7 names)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            stem, dot, kind = folder.rpartition(".")
            if dot and kind in ("dist-info", "egg-info"):
                name, _, version = stem.partition("-")
                key = name.lower().replace("-", "_").replace(".", "_")
                if version and key not in found:
                    found[key] = version.split("-")[0]  # an egg's "-py3.11" tail dropped
    return found


def capture(cwd: str | None = None) -> dict[str, str]:
    """`sys.*` tags: git commit, branch and dirty flag (of `cwd`, default the current
    folder), entry point, argv, Python and key library versions, host and user."""
    entry = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    tags = {**_environment(), **_source(os.path.abspath(cwd or os.getcwd())),
            "entry_point": entry,
            "argv": " ".join(sys.argv)[:2000]}
    return {PREFIX + key: value for key, value in tags.items()}
