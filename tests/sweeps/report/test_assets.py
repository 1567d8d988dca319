"""The plotly.js the report inlines: the vendored trimmed bundle, of plotly python's version."""

from __future__ import annotations

from plotly.offline import get_plotlyjs, get_plotlyjs_version

from sweeps.report import assets


def test_the_vendored_bundle_is_of_plotly_pythons_version_and_is_inlined():
    """Fails when the plotly package is upgraded without sweeps/report/vendor/build_plotly.sh:
    the report would then fall back to the 4.8 MB bundle."""
    assert assets.vendored_plotly_version() == get_plotlyjs_version()
    js = assets.plotly_script()
    assert js == assets.VENDORED_PLOTLY.read_text(encoding="utf-8")
    assert len(js) < len(get_plotlyjs()) / 2
    license_text = assets.VENDORED_PLOTLY.with_name("LICENSE-plotly.js").read_text()
    assert license_text.startswith("MIT License") and "Plotly" in license_text


def test_without_a_vendored_bundle_of_that_version_the_full_bundle_is_inlined(
        tmp_path, monkeypatch):
    stale = tmp_path / "plotly-report.min.js"
    stale.write_text("/*! plotly.js v0.1.0 (an old build) */\nvar Plotly = {};\n")
    full = get_plotlyjs()
    assert full.rstrip().endswith("}));")
    for path in (tmp_path / "missing.js", stale):
        monkeypatch.setattr(assets, "VENDORED_PLOTLY", path)
        js = assets.plotly_script.__wrapped__()
        assert js.startswith(full[:200]) and js.rstrip().endswith("})));")  # V8's parentheses
    assert assets.vendored_plotly_version() == "0.1.0"
