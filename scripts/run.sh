#!/usr/bin/env bash
# Install geoplan into .venv and run the main job on the embedded Kazakhstan layers:
# data outputs in out/kazakhstan/, maps in maps/ (the committed ones).
# With --scenario X (other than the baseline) the outputs go to out/<X>/ and the maps beside
# them in out/<X>/maps/: a what-if run never rewrites the committed maps/.
# Usage: bash scripts/run.sh [extra `geoplan run` options, e.g. --scenario scenarios/center_west.yaml]
# GEOPLAN_RUN_PRINT=1 prints the geoplan command instead of installing and running it.
set -euo pipefail

scenario=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --scenario | -s) scenario="${args[i + 1]:-}" ;;
    --scenario=*) scenario="${args[i]#--scenario=}" ;;
  esac
done
name="$(basename "${scenario:-baseline.yaml}")"
name="${name%.yaml}"
name="${name%.yml}"
if [ "$name" = "baseline" ]; then
  cmd=(geoplan run --out out/kazakhstan --maps maps "$@")
else
  cmd=(geoplan run --out "out/$name" --maps "out/$name/maps" "$@")
fi

if [ "${GEOPLAN_RUN_PRINT:-}" = 1 ]; then
  echo "${cmd[@]}"
  exit 0
fi
source "$(dirname "$0")/_env.sh"
"${cmd[@]}"
