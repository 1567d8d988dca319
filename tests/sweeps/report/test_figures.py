"""The figures' drawing choices that keep the page fast: the contour's grid filled here, SVG
below the WebGL thresholds."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from sweeps.report import figures as sf


def test_contour_grid_is_resampled_and_filled_harmonically():
    rng = np.random.default_rng(0)
    xs = sorted(10 ** rng.uniform(-5, -1, 200))  # a log axis with 200 distinct trial values
    ys = ["adam", "rmsprop", "sgd"]  # a categorical axis keeps its values
    z = np.full((3, 200), np.nan)
    z[0, 0], z[2, 199], z[1, 100], z[1, 101] = 1.0, 5.0, 2.0, 4.0
    fig = go.Figure([go.Contour(x=xs, y=ys, z=z, connectgaps=True)])
    fig.update_layout(xaxis_type="log", yaxis_type="category")
    sf._fill_contour(fig)
    trace = fig.data[0]
    grid = np.asarray(trace.z, dtype=float)
    assert list(trace.y) == ys and len(trace.x) == sf.CONTOUR_GRID
    assert math.isclose(trace.x[0], xs[0]) and math.isclose(trace.x[-1], xs[-1])
    steps = np.diff(np.log10(trace.x))
    assert np.allclose(steps, steps[0])  # evenly spaced on the log axis
    assert grid.shape == (3, sf.CONTOUR_GRID) and np.isfinite(grid).all()
    assert trace.connectgaps is False
    at = np.log10(xs)
    cell = np.rint((at - at[0]) / (at[-1] - at[0]) * (sf.CONTOUR_GRID - 1)).astype(int)
    trials: dict[tuple[int, int], list[float]] = {}
    for r, c in zip(*np.nonzero(np.isfinite(z)), strict=True):
        trials.setdefault((int(r), int(cell[c])), []).append(z[r, c])
    assert len(trials) >= 3
    for (r, c), values in trials.items():  # a cell with trials holds their mean
        assert math.isclose(grid[r, c], sum(values) / len(values), rel_tol=1e-6)
    # every other cell is the mean of its neighbours (the discrete Laplace equation)
    for r in range(3):
        for c in range(sf.CONTOUR_GRID):
            if (r, c) in trials:
                continue
            near = [grid[r + dr, c + dc] for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))
                    if 0 <= r + dr < 3 and 0 <= c + dc < sf.CONTOUR_GRID]
            assert math.isclose(grid[r, c], sum(near) / len(near), rel_tol=1e-4), (r, c)
    assert grid.min() >= 1.0 - 1e-6 and grid.max() <= 5.0 + 1e-6  # no overshoot


def test_line_figures_use_webgl_only_when_big():
    small = [{"type": "scatter", "x": list(range(100))}, {"type": "scatter", "x": [1, 2]}]
    sf._lines_webgl(small)
    assert {t["type"] for t in small} == {"scatter"}
    big = [{"type": "scatter", "x": list(range(sf.WEBGL_LINE_POINTS))}, {"type": "scatter",
                                                                         "x": [1, 2]}]
    sf._lines_webgl(big)
    assert {t["type"] for t in big} == {"scattergl"}
