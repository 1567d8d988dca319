"""W&B's ``program``/``command`` for one trial, expanded exactly as ``wandb agent`` does.

    expand(["${env}", "${interpreter}", "${program}", "${args}"], program="train.py",
           params={"lr": 0.1, "opt": {"beta": 0.9}})
    # ["/usr/bin/env", sys.executable, "train.py", "--lr=0.1", "--opt={'beta': 0.9}"]

The rules (wandb ``wandb_agent.py::_command_run`` and ``sdk/launch/sweeps/utils.py``):
``${envvar:NAME}`` (NAME in ``[A-Z0-9_]``) is replaced anywhere in an element, by the
variable or, when it is unset, by NAME itself; then an element that is exactly ``${name}``
becomes the macro's tokens (an unknown macro: none), and any other element stays as it is
(``--x=${args}`` is not expanded). Values are written with Python's ``str``, so nested
parameters read as a dict's repr. ``${interpreter}`` is the Python running sweepbook.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sweeps.compat.wandb_space import LATENT_SUFFIX

DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
SHIM_DIR = str(Path(__file__).parent / "shim")  # holds the `wandb` module W&B programs import
_ENVVAR = re.compile(r"\$\{envvar:([A-Z0-9_]*)\}")
_NEST_DELIMITER = ".wbnest[599c28ca25da]."  # W&B's, used only to order nested keys as W&B does


def nest(values: Mapping[str, Any], paths: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The program's config: plain names sorted, then each nested name (whose keys `paths`
    gives) placed under its parents, in W&B's order; latents (``<name>~u``) are left out.

        nest({"lr": 0.1, "opt.beta": 0.9}, {"opt.beta": ["opt", "beta"]})
        # {"lr": 0.1, "opt": {"beta": 0.9}}
    """
    shown = {k: v for k, v in values.items() if not k.endswith(LATENT_SUFFIX)}
    out = {name: shown[name] for name in sorted(shown) if name not in paths}
    for name in sorted((n for n in shown if n in paths),
                       key=lambda n: _NEST_DELIMITER.join(paths[n])):
        keys, target = list(paths[name]), out
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = shown[name]
    return out


def macro_tokens(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """The args macros for `params` (already nested), as ``create_sweep_command_args``."""
    args, no_hyphens, no_booleans, no_equals = [], [], [], []
    for name, value in params.items():
        flag = f"{name}={value}"
        args.append("--" + flag)
        no_hyphens.append(flag)
        no_equals += [f"--{name}", str(value)]
        if isinstance(value, bool):
            if value:
                no_booleans.append("--" + name)
        else:
            no_booleans.append("--" + flag)
    return {"args": args, "args_no_hyphens": no_hyphens, "args_no_boolean_flags": no_booleans,
            "args_no_equals": no_equals, "args_json": [json.dumps(dict(params))]}


def expand(command: Sequence[Any] | None, *, program: str | None, params: Mapping[str, Any],
           json_file: str | None = None, interpreter: str = sys.executable,
           environ: Mapping[str, str] | None = None) -> list[str]:
    """The argv of one trial (see the module docstring); an empty command is W&B's default."""
    environ = os.environ if environ is None else environ
    tokens = macro_tokens(params)
    tokens["interpreter"] = [interpreter]
    tokens["program"] = [] if program is None else [program]
    tokens["args_json_file"] = [] if json_file is None else [json_file]
    tokens["env"] = [] if sys.platform == "win32" else ["/usr/bin/env"]
    argv: list[str] = []
    for element in command or DEFAULT_COMMAND:
        text = _ENVVAR.sub(lambda m: environ.get(m.group(1), m.group(1)), str(element))
        if text.startswith("${") and text.endswith("}"):
            argv += tokens.get(text[2:-1], [])
        else:
            argv.append(text)
    return argv


def uses_envvar_fallback(command: Sequence[Any] | None,
                         environ: Mapping[str, str] | None = None) -> list[str]:
    """The ``${envvar:NAME}`` names in `command` that are unset (each expands to NAME)."""
    environ = os.environ if environ is None else environ
    return [m.group(1) for element in command or () for m in _ENVVAR.finditer(str(element))
            if m.group(1) not in environ]


def prepare_trial(wandb: Mapping[str, Any], params: Mapping[str, Any], run_id: str,
                  workdir: str, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of one W&B-format trial.

    Writes the param file ``wandb.init()`` reads (``WANDB_SWEEP_PARAM_PATH``) and, when the
    command uses ``${args_json_file}``, the JSON file, both under `workdir`. Sets
    ``WANDB_SWEEP_ID`` and ``WANDB_RUN_ID``, and puts the ``wandb`` shim first on
    ``PYTHONPATH`` unless ``wandb_module`` is false. `wandb` is the objective's
    ``wandb`` mapping plus ``sweep_id``.
    """
    sweep_id = str(wandb.get("sweep_id") or "local")
    config = nest(params, wandb.get("paths") or {})
    folder = Path(workdir, "wandb", f"sweep-{sweep_id}")
    folder.mkdir(parents=True, exist_ok=True)
    param_path = folder / f"config-{run_id}.yaml"
    param_path.write_text("wandb_version: 1\n" + yaml.safe_dump(
        {k: {"value": v} for k, v in config.items()}, sort_keys=False), encoding="utf-8")
    command = wandb.get("command")
    json_file = None
    if "${args_json_file}" in [str(c) for c in command or DEFAULT_COMMAND]:
        json_file = str(folder / f"config-{run_id}.json")
        Path(json_file).write_text(json.dumps(config), encoding="utf-8")
    out = {**env, "WANDB_SWEEP_ID": sweep_id, "WANDB_RUN_ID": run_id,
           "WANDB_SWEEP_PARAM_PATH": str(param_path)}
    if wandb.get("wandb_module", True):
        out["PYTHONPATH"] = os.pathsep.join(p for p in (SHIM_DIR, env.get("PYTHONPATH")) if p)
    argv = expand(command, program=wandb.get("program"), params=config, json_file=json_file,
                  environ=out)
    return argv, out
