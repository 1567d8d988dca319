"""tracking.validation: what is refused, and that each refusal is one line naming the field."""

from __future__ import annotations

import decimal
import fractions
import math

import numpy as np
import pytest

from tracking import validation
from tracking.errors import InvalidInputError


def refused(call, *needles: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize("good", ["a", "loss/train", "k" * 250, "tab\there", "ünïcode", "a b"])
def test_good_keys(good):
    assert validation.key(good) == good


@pytest.mark.parametrize("bad", ["", None, 3, b"key", "k" * 251, "a\x00b", "a\nb", "\x1f"])
def test_bad_keys(bad):
    refused(lambda: validation.key(bad, "metric key"), "metric key")


def test_names():
    assert validation.name("run 1", "run name") == "run 1"
    refused(lambda: validation.name("   ", "run name"), "run name", "non-empty")
    refused(lambda: validation.name("n" * 1_000_000, "run name"), "run name", "1000000")
    refused(lambda: validation.name("a\rb", "run name"), "control characters")
    refused(lambda: validation.name(None, "experiment name"), "experiment name")


@pytest.mark.parametrize("value, expected", [
    (1, 1.0), (0.5, 0.5), (np.float32(0.25), 0.25), (np.int64(7), 7.0),
    (fractions.Fraction(1, 4), 0.25), (math.inf, math.inf), (-0.0, -0.0), (5e-324, 5e-324),
])
def test_metric_values(value, expected):
    got = validation.metric_value("m", value)
    assert type(got) is float and got == expected
    assert math.copysign(1, got) == math.copysign(1, expected)


def test_nan_metric_value():
    assert math.isnan(validation.metric_value("m", math.nan))


@pytest.mark.parametrize("bad", [True, np.bool_(True), "1.0", "1e999", None, [1.0],
                                 decimal.Decimal("1"), 10**400, complex(1, 0)])
def test_bad_metric_values(bad):
    refused(lambda: validation.metric_value("acc", bad), "metric 'acc'")


def test_steps():
    assert validation.step("m", None) == 0
    assert validation.step("m", np.int64(5)) == 5
    assert validation.step("m", 2**63 - 1) == 2**63 - 1
    assert validation.step("m", -(2**63)) == -(2**63)
    refused(lambda: validation.step("m", 2**63), "metric 'm'", "step", "64-bit")
    refused(lambda: validation.step("m", -(2**63) - 1), "step")
    refused(lambda: validation.step("m", 10**1000), "step")
    for bad in (1.0, "1", True):
        refused(lambda bad=bad: validation.step("m", bad), "step must be an integer")


def test_timestamps():
    assert validation.timestamp("m", None, 42) == 42
    assert validation.timestamp("m", 1_700_000_000_000.7, 0) == 1_700_000_000_000
    for bad in (math.nan, math.inf, "1", True, 1e300, 2**63):
        refused(lambda bad=bad: validation.timestamp("m", bad, 0), "metric 'm'", "timestamp")


@pytest.mark.parametrize("value, text, kind", [
    (3, "3", "int"), (0.1, "0.1", "float"), (np.float64(1e-7), "1e-07", "float"),
    (True, "True", "bool"), (None, "None", "none"), ("rf", "rf", "str"),
    ([1, 2], "[1, 2]", "str"), ("x" * 8000, "x" * 8000, "str"), ("two\nlines", "two\nlines", "str"),
])
def test_param_values(value, text, kind):
    assert validation.param_value("p", value) == (text, kind)


def test_bad_param_values():
    refused(lambda: validation.param_value("blob", "x" * 10_000_000), "param 'blob'", "8000")
    refused(lambda: validation.param_value("p", "a\x00"), "param 'p'", "NUL")


def test_tag_values_and_notes():
    assert validation.tag_value("t", 3) == "3"
    refused(lambda: validation.tag_value("t", "v" * 8001), "tag 't'")
    refused(lambda: validation.tag_value("t", "\x00"), "tag 't'", "NUL")
    assert validation.note("# Title\n\ttext") == "# Title\n\ttext"
    refused(lambda: validation.note(None), "note")
    refused(lambda: validation.note("n" * (validation.MAX_NOTE_LENGTH + 1)), "note")
    refused(lambda: validation.note("\x00"), "note", "NUL")


def test_error_messages_shorten_huge_values():
    with pytest.raises(InvalidInputError) as caught:
        validation.key("\x00" + "k" * 100)
    assert "..." in str(caught.value)
