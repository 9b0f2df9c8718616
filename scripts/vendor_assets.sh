#!/usr/bin/env bash
# Vendor the web assets the HTML maps inline (Leaflet) into geoplan/_assets/, from the npm
# registry, with the version, licence and checksums recorded in geoplan/_assets/ASSETS.json.
# The maps never fetch anything at run time: a pip-installed geoplan carries these files.
# Usage: bash scripts/vendor_assets.sh   (needs npm; re-run after changing a version below)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LEAFLET_VERSION="1.9.4"
DEST="$ROOT/geoplan/_assets/leaflet"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
# npm pack checks the tarball against the registry's integrity field.
npm pack --silent "leaflet@$LEAFLET_VERSION" >/dev/null
tar xzf "leaflet-$LEAFLET_VERSION.tgz"
INTEGRITY="$(npm view "leaflet@$LEAFLET_VERSION" dist.integrity)"
LICENSE_ID="$(npm view "leaflet@$LEAFLET_VERSION" license)"

rm -rf "$DEST.new" && mkdir -p "$DEST.new/images"
cp package/dist/leaflet.js package/dist/leaflet.css package/LICENSE "$DEST.new/"
cp package/dist/images/layers.png package/dist/images/layers-2x.png "$DEST.new/images/"
rm -rf "$DEST" && mv "$DEST.new" "$DEST"

python3 - "$ROOT/geoplan/_assets" "$LEAFLET_VERSION" "$INTEGRITY" "$LICENSE_ID" <<'PY'
import hashlib, json, sys
from pathlib import Path
root, version, integrity, licence = Path(sys.argv[1]), *sys.argv[2:]
files = sorted(p for p in (root / "leaflet").rglob("*") if p.is_file())
record = {"leaflet": {
    "version": version,
    "licence": licence,
    "source": f"npm registry, leaflet@{version}",
    "npm_integrity": integrity,
    "files": {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files},
}}
(root / "ASSETS.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
PY
echo "vendored leaflet@$LEAFLET_VERSION ($LICENSE_ID) into geoplan/_assets/leaflet" >&2
