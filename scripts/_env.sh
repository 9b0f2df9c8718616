# Shared set-up for scripts/run.sh and scripts/test.sh: a virtual environment in .venv with
# geoplan installed (editable) plus the extras named in $GEOPLAN_EXTRAS. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="${GEOPLAN_VENV:-$ROOT/.venv}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment $VENV" >&2
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 lacks ensurepip until python3-venv is installed.
    echo "==> installing python3-venv (apt)" >&2
    as_root apt-get update -qq && as_root apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV"; "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
echo "==> installing geoplan${GEOPLAN_EXTRAS:+[$GEOPLAN_EXTRAS]} into $VENV" >&2
"$VENV/bin/python" -m pip install -q -e ".${GEOPLAN_EXTRAS:+[$GEOPLAN_EXTRAS]}" 2> >(grep -v "^WARNING: Location" >&2)
export PATH="$VENV/bin:$PATH"
