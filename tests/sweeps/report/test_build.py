"""write_sweep_report's two files: the report is drawn once, then laid out for each folder."""

from __future__ import annotations

import html
import re
import urllib.parse

from sweeps.report.build import default_report_path, write_sweep_report


def test_both_files_link_the_artifacts_from_their_own_folder(project, nasty_sweep, tmp_path,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    own = write_sweep_report(project.client, nasty_sweep)
    latest = default_report_path(project.client, [nasty_sweep]).resolve()
    assert own.resolve().parent != latest.parent  # so their relative links differ
    for page in (own.resolve(), latest):
        hrefs = re.findall(r'<a href="(\.[^"]*)"', page.read_text())
        assert hrefs, page
        for href in hrefs:
            assert (page.parent / urllib.parse.unquote(html.unescape(href))).is_file(), href
        assert page.with_suffix(".json").is_file()
