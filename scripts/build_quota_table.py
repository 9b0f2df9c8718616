"""Build layers/kazakhstan/resettlement_quotas.csv from the fact table of resettlement quotas.

Usage (from the repository root)::

    python scripts/build_quota_table.py [--facts ../shared/data/facts]

Reads ``kz_resettlement_quotas.csv`` (yearly regional quotas for state-supported resettlement,
set by order of the Minister of Labour and Social Protection; see layers/kazakhstan/SOURCES.md),
checks it (whole numbers, one row per year and region, every region one of the towns/centres
layers' regions) and writes the embedded table with the same columns. The output depends only
on the input (byte-identical reruns).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("year", "region", "quota_migrants", "quota_kandas", "source_urls")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--facts", type=Path, default=ROOT.parent / "shared" / "data" / "facts")
    ap.add_argument("--out", type=Path, default=ROOT / "layers" / "kazakhstan" / "resettlement_quotas.csv")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import geoplan
    from geoplan.relocation import read_quotas

    src = args.facts / "kz_resettlement_quotas.csv"
    layers = geoplan.read_layers(ROOT / "layers" / "kazakhstan")
    regions = sorted(set(layers.towns["region"]) | set(layers.centres["region"]))
    read_quotas(src, regions=regions)  # raises naming the row on any problem
    with src.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in sorted(rows, key=lambda r: (int(r["year"]), -int(r["quota_migrants"]), r["region"])):
        w.writerow({c: r[c] for c in COLUMNS})
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(args.out)
    print(f"wrote {args.out} ({len(rows)} rows, {sum(int(r['quota_migrants']) for r in rows):,} migrants)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
