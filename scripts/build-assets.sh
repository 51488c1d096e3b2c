#!/usr/bin/env bash
# Install the console's third-party browser code from the npm registry (versions and hashes
# pinned in console-assets/package-lock.json) and copy what the pages load into the package's
# static directory, so the console needs no CDN at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "npm is required to build the console assets (apt-get install -y npm)"; exit 1; }
(cd console-assets && npm ci --no-audit --no-fund --loglevel=error)
vendor=src/apex_mediation/console/static/vendor
mkdir -p "$vendor"
cp console-assets/node_modules/htmx.org/dist/htmx.min.js "$vendor/htmx.min.js"
cp console-assets/node_modules/chart.js/dist/chart.umd.min.js "$vendor/chart.umd.min.js"
