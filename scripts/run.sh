#!/usr/bin/env bash
# Install geoplan into .venv and run the main job on the embedded Kazakhstan layers.
# Usage: bash scripts/run.sh [OUT_DIR]     (default OUT_DIR: out/kazakhstan)
source "$(dirname "$0")/_env.sh"
OUT="${1:-out/kazakhstan}"
geoplan layers check
geoplan layers export --to "$OUT/layers.gpkg"
