#!/usr/bin/env bash
# Install geoplan with its test extras into .venv, the browser the map tests drive (Debian's
# chromium) and Leaflet from the npm registry, then run the whole test suite.
# Usage: bash scripts/test.sh [PYTEST_ARGS...]
GEOPLAN_EXTRAS=test source "$(dirname "$0")/_env.sh"

if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing chromium (apt) for the browser tests" >&2
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "warning: could not install chromium; browser tests will fail under CI" >&2
fi
# PostgreSQL + PostGIS for the PostGIS store tests: Debian's packages; the tests start their own
# server on 127.0.0.1 with a data folder under their temp dir (the system cluster stays unused).
if ! compgen -G "/usr/share/postgresql/*/extension/postgis.control" >/dev/null; then
  echo "==> installing postgresql and postgis (apt) for the PostGIS store tests" >&2
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends postgresql postgresql-postgis >/dev/null \
    || echo "warning: could not install postgresql/postgis; PostGIS tests will fail under CI" >&2
fi
# Leaflet for the browser tests: installed from the npm registry into a cache, never committed.
NPM_DIR="$ROOT/.cache/npm"
if [ ! -f "$NPM_DIR/node_modules/leaflet/dist/leaflet.js" ] && command -v npm >/dev/null; then
  echo "==> installing leaflet (npm) for the browser tests" >&2
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && npm install --silent --no-audit --no-fund --prefix . leaflet@1.9.4 >/dev/null) \
    || echo "warning: npm install leaflet failed" >&2
fi
export GEOPLAN_LEAFLET_DIR="$NPM_DIR/node_modules/leaflet/dist"

echo "==> running the test suite" >&2
python -m pytest "$@"
