#!/usr/bin/env bash
# Install geoplan into .venv and run the main job on the embedded Kazakhstan layers:
# data outputs in out/kazakhstan/, maps in maps/.
# Usage: bash scripts/run.sh [extra `geoplan run` options, e.g. --scenario scenarios/center_west.yaml]
source "$(dirname "$0")/_env.sh"
geoplan run --out out/kazakhstan --maps maps "$@"
