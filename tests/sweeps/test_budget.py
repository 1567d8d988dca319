"""sweeps.budget: the budget and failure policy, without workers (the coordinator's
end-to-end behaviour is in test_coordinator.py)."""

from __future__ import annotations

from optuna.trial import TrialState

from sweeps.budget import Budget
from sweeps.config import parse_config
from sweeps.trial import Outcome
from tracking import RunStatus


def budget(make_config, **sections) -> tuple[Budget, list[str]]:
    stops: list[str] = []
    return Budget(parse_config(make_config("m:f", **sections)), stops.append), stops


def test_trials_are_asked_for_until_the_budget_counts_them_all(make_config):
    policy, _ = budget(make_config, budget={"trials": 3})
    policy.count(TrialState.COMPLETE)
    assert policy.may_ask(pending=1)
    assert not policy.may_ask(pending=2)
    assert policy.count_names() == {"complete": 1, "pruned": 0, "failed": 0}


def test_a_failed_attempt_is_retried_then_told_failed(make_config):
    policy, stops = budget(make_config, execution={"workers": 1, "retries": 1})
    assert policy.failed(Outcome.FAILED, 0, "r1", "KeyError: 1", failures=1, lost=0)
    assert not policy.failed(Outcome.FAILED, 0, "r2", "ValueError: 2", failures=2, lost=0)
    assert policy.failed(Outcome.LOST, 1, "r3", "node left", failures=0, lost=1)  # not counted
    assert policy.failed_attempts == 2 and stops == []


def test_the_first_attempts_failing_alike_stop_the_sweep_failed(make_config):
    policy, stops = budget(make_config, budget={"trials": 10, "max_failures": 3})
    for number in range(3):
        policy.failed(Outcome.FAILED, number, f"r{number}", f"KeyError: {number}", 1, 0)
        policy.count(TrialState.FAIL)
    assert stops == ["the first 3 attempts failed with the same error"]
    assert not policy.may_ask(pending=0)
    assert policy.sweep_status() is RunStatus.FAILED
    assert policy.stop_reason.startswith("all 3 trials failed: KeyError: 0 (trial 0: run r0)")


def test_a_success_first_turns_the_alike_rule_off_and_a_target_stops(make_config):
    metric = {"name": "loss", "goal": "minimize", "target": 0.5}
    policy, stops = budget(make_config, metric=metric)
    policy.succeeded([0.9])
    for number in range(6):
        policy.failed(Outcome.FAILED, number, f"r{number}", "KeyError: 1", 1, 0)
    assert stops == []
    policy.succeeded([0.4])
    assert stops == ["metric target 0.5 reached"]


def test_a_sweep_that_ends_with_nothing_completed_is_failed(make_config):
    """Stopped, pruned away or out of time before any trial completed: never FINISHED."""
    policy, _ = budget(make_config)
    assert policy.sweep_status() is RunStatus.FAILED
    assert policy.stop_reason.startswith("no trial completed (0 failed, 0 pruned)")
    pruned, _ = budget(make_config)
    pruned.count(TrialState.PRUNED)
    assert pruned.sweep_status() is RunStatus.FAILED
    assert pruned.stop_reason.startswith("no trial completed (0 failed, 1 pruned)")
    done, _ = budget(make_config)
    done.count(TrialState.COMPLETE)
    assert done.sweep_status() is RunStatus.FINISHED


def test_stop_when_reads_an_objective_value_or_the_logged_one(make_config):
    """An objective metric's value is the one optuna is told; any other, the logged one."""
    policy, stops = budget(make_config, stop_when={"metric": "loss", "reaches": 0.5})
    policy.succeeded([0.6], 0, {"loss": 0.1})  # told 0.6 (by metric.use): not reached
    policy.succeeded([0.5], 1, {"loss": 0.5})
    assert stops == ["stop_when: loss reached 0.5 (trial 1)"]
    policy, stops = budget(make_config,
                           stop_when={"metric": "acc", "reaches": 0.9, "goal": "maximize"})
    policy.succeeded([0.0], 0, {})  # never logged
    policy.succeeded([0.0], 1, {"acc": float("nan")})
    policy.succeeded(None)  # pruned
    assert stops == [] and policy.may_ask(pending=0)
    policy.succeeded([9.0], 2, {"acc": 0.95})
    assert stops == ["stop_when: acc reached 0.9 (trial 2)"] and not policy.may_ask(pending=0)
