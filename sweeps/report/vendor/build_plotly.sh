#!/usr/bin/env bash
# Rebuilds plotly-report.min.js: plotly.js with only the trace types the HTML report draws,
# and LICENSE-plotly.js beside it, from the npm registry (needs node and npm; writes nothing
# outside this folder but a temporary one).
#
#     sweeps/report/vendor/build_plotly.sh
#
# Rebuild whenever the plotly python package is upgraded: PLOTLY_JS must equal
# `python -c "import plotly.offline as o; print(o.get_plotlyjs_version())"`, and the report
# falls back to plotly's full 4.8 MB bundle (tests/sweeps/report/test_plotly_bundle.py fails)
# while the two differ.
#
# The traces (sweeps/report/assets.py REPORT_TRACES says the same), and what draws them:
#   scatter    (in plotly.js's core) history, slice, timeline, pareto front, contour points
#   scattergl  the learning curves, and history/slice/timeline above WEBGL_FROM points
#   bar        parameter importances
#   box        re-checked trials' repeats
#   contour    the contour plots
#   parcoords  the brushable parallel coordinates
# No calendars, locales besides en, maps or 3-D: 1.6 MB instead of 4.8 MB, and less than half
# the main-thread time before the report's first figure (0.52 s against 1.26 s at 300 trials).
#
# Versions are pinned: the four packages exactly, everything they depend on as the registry
# held it on BEFORE (npm's --before), so a rebuild gives the same bundle. The esbuild options
# are those of plotly.js's own esbuild-config.js (format, target, global, defines, aliases);
# the one CSS file it imports (maplibre-gl's, for map traces) is left out.
set -euo pipefail

PLOTLY_JS=4.1.1
ESBUILD=0.28.2
BUFFER=6.0.3              # node's Buffer for the browser, as plotly.js's build uses
STREAM_BROWSERIFY=3.0.0   # node's stream for the browser, ditto
BEFORE=2026-12-02
TRACES=(bar box contour scattergl parcoords)

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts --save-exact --before="$BEFORE" \
    "plotly.js@$PLOTLY_JS" "esbuild@$ESBUILD" "buffer@$BUFFER" \
    "stream-browserify@$STREAM_BROWSERIFY" >/dev/null

{
    echo "var Plotly = require('plotly.js/lib/core');"
    echo "Plotly.register(["
    for trace in "${TRACES[@]}"; do echo "    require('plotly.js/lib/$trace'),"; done
    echo "]);"
    echo "module.exports = Plotly;"
} >entry.js

npx --no-install esbuild entry.js --bundle --minify --format=iife --global-name=Plotly \
    --target=es2016 --define:global=window --define:define.amd=false \
    --alias:regl=@plotly/regl --alias:stream=stream-browserify --loader:.css=empty \
    --log-level=warning \
    --banner:js="/*! plotly.js v$PLOTLY_JS (sweepbook report bundle: scatter ${TRACES[*]})
 * Copyright 2012-2026, Plotly, Inc. Licensed under the MIT license: see LICENSE-plotly.js */" \
    --outfile="$here/plotly-report.min.js"
cp node_modules/plotly.js/LICENSE "$here/LICENSE-plotly.js"
sha256sum "$here/plotly-report.min.js"  # d7981e5a... for the versions above
