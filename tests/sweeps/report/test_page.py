"""The page, without a browser: escaping, CSP hashes, Markdown, links, the written file."""

from __future__ import annotations

import html
import json
import re

from sweeps.advice import MIN_IMPORTANCE_TRIALS
from sweeps.report import write_report
from sweeps.report.assets import APP
from sweeps.report.data import failed_attempts, load_sweep, ranked_numbers
from sweeps.report.markdown import render_markdown
from sweeps.report.page import artifact_href, csp_hash, esc, script_json


def test_script_json_cannot_end_its_script_block():
    value = {"a": "</script><script>alert(1)</script>", "b": "<!--<script>", "c": "x\u2028y&"}
    text = script_json(value)
    for bad in ("<", ">", "&", "\u2028"):
        assert bad not in text
    assert json.loads(text) == value


def test_script_json_rounds_floats_and_drops_nonfinite():
    assert json.loads(script_json([0.123456789123, float("nan"), float("inf"), 3])) == \
        [0.1234568, None, None, 3]


def test_esc_quotes_attributes():
    assert esc('"><svg onload=x>') == "&quot;&gt;&lt;svg onload=x&gt;"


def test_markdown_has_no_raw_html_images_or_script_links():
    html = render_markdown("**b** <img src=x onerror=alert(1)> [x](javascript:alert(1)) "
                           "[y](JAVASCRIPT:alert(1)) [d](data:text/html,x) ![i](http://e/x.png)"
                           " [ok](https://example.org/a)")
    assert "<strong>b</strong>" in html
    assert "<img" not in html and "javascript:" not in html.lower().split("[x](")[0]
    assert 'href="javascript' not in html.lower() and 'href="data' not in html.lower()
    assert 'href="https://example.org/a"' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_artifact_links_are_encoded_and_relative(tmp_path):
    file = tmp_path / "runs" / "artifacts" / "1" / "r" / "<img src=x onerror=alert(1)>.txt"
    href = artifact_href(file, tmp_path / "reports")
    assert href.startswith("../runs/artifacts/1/r/")
    assert "<" not in href and " " not in href and ":" not in href
    href = artifact_href(tmp_path / "javascript:alert(1)", tmp_path)
    assert href == "./javascript%3Aalert%281%29"


def test_written_report_is_self_contained(project, quad_sweep, tmp_path):
    path = write_report(project.client, [quad_sweep], tmp_path / "deep" / "folder" / "r.html")
    assert path == tmp_path / "deep" / "folder" / "r.html"
    text = path.read_text(encoding="utf-8")
    assert not list(path.parent.glob(".report-*"))  # the temporary file was moved
    assert text.count("plotly.js v") == 1  # the library, once
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", text, flags=re.S)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    assert "<link" not in markup and "@import" not in markup and "url(" not in markup
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    assert len(scripts) == 2 and scripts[1] == APP
    policy = html.unescape(
        re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)[1])
    assert "default-src 'none'" in policy
    for script in scripts:
        assert csp_hash(script) in policy
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', text,
                        flags=re.S)
    assert len(blocks) >= 7
    for _, block in blocks:
        json.loads(block)


def test_sections_are_all_there(project, quad_sweep, tmp_path):
    text = write_report(project.client, [quad_sweep], tmp_path / "r.html").read_text()
    for title in ("1. Summary", "2. Best trial", "3. Optimization history",
                  "4. Parallel coordinates", "5. Parameter importance", "6. Slices and contour",
                  "7. Learning curves", "8. Timeline", "10. Runs", "11. Failures",
                  "12. Artifacts"):
        assert f">{title}" in text, title
    # importance is claimed from 20 completed trials on; how many of quad's complete
    # depends on pruning, so the section holds the chart or the notice accordingly
    completed = len(ranked_numbers(load_sweep(project.client, quad_sweep)))
    if completed >= MIN_IMPORTANCE_TRIALS:
        assert "PED-ANOVA" in text
    else:
        assert f"no importance is claimed below {MIN_IMPORTANCE_TRIALS}" in text
    assert "Config as run" in text


def test_few_trials_get_a_notice_not_a_chart(project, tiny_sweep, tmp_path):
    text = write_report(project.client, [tiny_sweep], tmp_path / "tiny.html").read_text()
    assert "no importance is claimed below 20" in text
    assert 'id="s0-importance-ped-json"' not in text


def test_failures_are_grouped_by_error_pattern_with_params(project, keys_sweep, tmp_path):
    data = load_sweep(project.client, keys_sweep)
    failed = sorted((dict(a.params)["n"], a.error) for a in failed_attempts(data))
    assert failed[:3] == [(0, "KeyError: 4"), (1, "KeyError: 5"), (2, "KeyError: 6")]
    assert failed[3][0] == 3 and failed[3][1].startswith("ValueError: bad value at 0x")
    text = write_report(project.client, [keys_sweep], tmp_path / "r.html").read_text()
    section = text[text.index(">11. Failures"):text.index(">12. Artifacts")]
    assert "4 attempts failed or were stopped, 2 kinds of error." in section
    assert section.index("KeyError × 3") < section.index("ValueError × 1")
    keys_group = section[section.index("KeyError × 3"):section.index("ValueError × 1")]
    for n in (0, 1, 2):
        assert f"<td>n={n}</td>" in keys_group
    assert "<td>n=3</td>" not in keys_group
    assert "pattern: <code>KeyError: #</code>" in keys_group
    assert "Traceback of trial" in keys_group
