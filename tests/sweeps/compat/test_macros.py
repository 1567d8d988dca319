"""W&B's program/command macros: each one's argv, exactly as `wandb agent` builds it."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from sweeps.compat.macros import SHIM_DIR, expand, nest, prepare_trial

PARAMS = {"lr": 1e-05, "opt": "adam", "dims": [1, 2], "aug": True, "ema": False, "drop": None}
ENV = [] if sys.platform == "win32" else ["/usr/bin/env"]


@pytest.mark.parametrize(("command", "argv"), [
    (None, [*ENV, sys.executable, "train.py", "--lr=1e-05", "--opt=adam", "--dims=[1, 2]",
            "--aug=True", "--ema=False", "--drop=None"]),
    (["${env}", "${interpreter}", "${program}", "${args}"],
     [*ENV, sys.executable, "train.py", "--lr=1e-05", "--opt=adam", "--dims=[1, 2]",
      "--aug=True", "--ema=False", "--drop=None"]),
    (["python", "${program}", "${args_no_hyphens}"],
     ["python", "train.py", "lr=1e-05", "opt=adam", "dims=[1, 2]", "aug=True", "ema=False",
      "drop=None"]),
    (["python", "${program}", "${args_no_boolean_flags}"],
     ["python", "train.py", "--lr=1e-05", "--opt=adam", "--dims=[1, 2]", "--aug",
      "--drop=None"]),
    (["python", "${program}", "${args_no_equals}"],
     ["python", "train.py", "--lr", "1e-05", "--opt", "adam", "--dims", "[1, 2]", "--aug",
      "True", "--ema", "False", "--drop", "None"]),
    (["python", "${program}", "${args_json}"], ["python", "train.py", json.dumps(PARAMS)]),
    (["python", "${program}", "--params", "${args_json_file}"],
     ["python", "train.py", "--params", "/tmp/p.json"]),
    # a macro inside a longer element stays as it is; an unknown macro expands to nothing
    (["python", "--x=${args}", "${nope}", 3], ["python", "--x=${args}", "3"]),
    ([], [*ENV, sys.executable, "train.py", "--lr=1e-05", "--opt=adam", "--dims=[1, 2]",
          "--aug=True", "--ema=False", "--drop=None"]),  # empty: W&B's default command
])
def test_each_macro_expands_to_wandbs_argv(command, argv):
    assert expand(command, program="train.py", params=PARAMS, json_file="/tmp/p.json",
                  environ={}) == argv


def test_envvar_is_replaced_anywhere_and_an_unset_one_becomes_its_name():
    environ = {"DATA": "/data", "N": "4"}
    command = ["--data=${envvar:DATA}/x", "${envvar:N}", "${envvar:MISSING}",
               "${envvar:lower}"]
    # lowercase is not a name W&B's pattern matches: the element is then an unknown macro
    assert expand(command, program=None, params={}, environ=environ) == [
        "--data=/data/x", "4", "MISSING"]


def test_nested_params_render_as_a_dict_repr_after_the_plain_ones():
    values = {"zeta": 1, "opt.lr": 0.1, "opt.inner.beta": 0.9, "alpha": "a", "opt.lr~u": 0.3}
    paths = {"opt.lr": ["opt", "lr"], "opt.inner.beta": ["opt", "inner", "beta"]}
    config = nest(values, paths)
    assert list(config) == ["alpha", "zeta", "opt"]  # W&B re-nests after the plain keys
    assert config["opt"] == {"inner": {"beta": 0.9}, "lr": 0.1}
    assert expand(["${args}"], program=None, params=config) == [
        "--alpha=a", "--zeta=1", "--opt={'inner': {'beta': 0.9}, 'lr': 0.1}"]
    assert expand(["${args_json}"], program=None, params=config) == [json.dumps(config)]


def test_a_literal_dotted_name_stays_top_level():
    assert nest({"layer.weight": 1}, {}) == {"layer.weight": 1}


def test_prepare_trial_writes_the_param_file_and_sets_the_environment(tmp_path):
    wandb = {"program": "train.py", "command": ["${program}", "${args_json_file}"],
             "paths": {"opt.lr": ["opt", "lr"]}, "sweep_id": "s1"}
    argv, env = prepare_trial(wandb, {"x": 1, "opt.lr": 0.5, "x2~u": 0.1}, "r1", str(tmp_path),
                              {"PYTHONPATH": "/project"})
    folder = tmp_path / "wandb" / "sweep-s1"
    assert argv == ["train.py", str(folder / "config-r1.json")]
    assert json.loads((folder / "config-r1.json").read_text()) == {"x": 1, "opt": {"lr": 0.5}}
    text = (folder / "config-r1.yaml").read_text()
    assert text.startswith("wandb_version: 1\n")
    assert yaml.safe_load(text) == {"wandb_version": 1, "x": {"value": 1},
                                    "opt": {"value": {"lr": 0.5}}}
    assert env["WANDB_SWEEP_PARAM_PATH"] == str(folder / "config-r1.yaml")
    assert (env["WANDB_SWEEP_ID"], env["WANDB_RUN_ID"]) == ("s1", "r1")
    assert env["PYTHONPATH"].split(":") == [SHIM_DIR, "/project"]


def test_the_shim_stays_off_the_path_when_the_config_says_so(tmp_path):
    wandb = {"program": "t.py", "command": None, "wandb_module": False, "sweep_id": "s"}
    _, env = prepare_trial(wandb, {}, "r", str(tmp_path), {"PYTHONPATH": "/project"})
    assert env["PYTHONPATH"] == "/project"
    assert not (tmp_path / "wandb" / "sweep-s" / "config-r.json").exists()
