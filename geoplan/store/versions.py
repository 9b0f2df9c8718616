"""Content hashes and feature-level differences of layer sets, wherever they are stored.

A layer's *content* is its features keyed by ``id``: the declared attribute values (empty
values ignored, so a column of blanks equals a missing column) and the geometry (2-D, a
single-part multi-geometry as its part, coordinates to 1e-9 degrees). Row order and column
order are not content. :func:`content_hash` digests it (recorded in a PostGIS store's
``layer_versions`` table on every push); :func:`diff_layers` lists features added, removed and
changed between two layer sets (files or PostGIS, see ``geoplan layers diff``).

Examples
--------
>>> import geoplan
>>> from geoplan.store import diff_layers
>>> a = geoplan.read_layers(geoplan.embedded_layers_path())
>>> b = a.copy()
>>> b.towns.loc[b.towns["id"] == "zhezkazgan", "population"] = 80000
>>> diff_layers(a, b)[["layer", "id", "change", "columns"]].to_dict("records")
[{'layer': 'towns', 'id': 'zhezkazgan', 'change': 'changed', 'columns': 'population'}]
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.layers import SCHEMAS, LayerSet

__all__ = ["feature_records", "content_hash", "records_hash", "diff_layers"]

#: Coordinates are compared to this many decimals of a degree (about 0.1 mm).
COORD_DECIMALS = 9


def _value(v: Any, kind: str) -> Any:
    """Return a JSON-safe canonical value, ``None`` for every kind of empty."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (float, np.floating)) and math.isnan(float(v)):
        return None
    if kind == "str":
        text = str(v)
        return text if text.strip() else None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)  # not a number where one belongs: compare as text (validation reports it)
    if kind == "int" and f.is_integer():
        return int(f)
    return f


def feature_records(gdf: gpd.GeoDataFrame, layer: str) -> dict[str, dict[str, Any]]:
    """Each feature of one layer as ``{column: value, "geometry": WKB hex}``, keyed by id.

    Parameters
    ----------
    gdf
        The layer.
    layer
        Its name (one of :data:`geoplan.SCHEMAS`), which sets the columns and their kinds.

    Returns
    -------
    dict
        Features by id. A feature without id is keyed ``#N`` (1-based row); a repeated id gets
        `` (2)``, `` (3)`` ... for its later copies. Empty values are left out.
    """
    schema = SCHEMAS[layer]
    cols = [f for f in schema.fields if f.name in gdf.columns and f.name != schema.id_field]
    geoms = gdf.geometry.to_numpy()
    multi = shapely.get_type_id(geoms) >= 4
    single = multi & (shapely.get_num_geometries(geoms) == 1)
    geoms = np.where(single, shapely.get_geometry(geoms, 0), geoms)
    geoms = shapely.force_2d(geoms)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))
    wkb = shapely.to_wkb(geoms, hex=True, output_dimension=2)
    ids = gdf[schema.id_field].to_numpy(dtype=object) if schema.id_field in gdf.columns else [None] * len(gdf)
    values = {f.name: gdf[f.name].to_numpy(dtype=object) for f in cols}
    out: dict[str, dict[str, Any]] = {}
    for i in range(len(gdf)):
        fid = _value(ids[i], "str")
        key = f"#{i + 1}" if fid is None else str(fid)
        n = 2
        base = key
        while key in out:
            key = f"{base} ({n})"
            n += 1
        rec = {f.name: _value(values[f.name][i], f.kind) for f in cols}
        rec = {k: v for k, v in rec.items() if v is not None}
        rec["geometry"] = None if wkb[i] is None else str(wkb[i])
        out[key] = rec
    return out


def content_hash(gdf: gpd.GeoDataFrame, layer: str) -> str:
    """SHA-256 of a layer's content (see the module notes): same features, same hash.

    Parameters
    ----------
    gdf
        The layer.
    layer
        Its name (one of :data:`geoplan.SCHEMAS`).

    Returns
    -------
    str
        ``"sha256:"`` and 64 hex digits.
    """
    return records_hash(feature_records(gdf, layer))


def records_hash(records: dict[str, dict[str, Any]]) -> str:
    """:func:`content_hash` of records already made by :func:`feature_records`."""
    h = hashlib.sha256()
    for key in sorted(records):
        h.update(json.dumps([key, records[key]], sort_keys=True, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def _short(v: Any) -> str:
    if v is None:
        return "empty"
    text = str(v)
    return text if len(text) <= 40 else text[:37] + "..."


def diff_layers(a: LayerSet, b: LayerSet) -> pd.DataFrame:
    """List the features added, removed and changed from layer set ``a`` to ``b``.

    Parameters
    ----------
    a, b
        Two layer sets, e.g. read with :func:`geoplan.read_layers` from a folder and from a
        ``postgresql://`` URL.

    Returns
    -------
    pandas.DataFrame
        One row per difference, sorted by layer and id: ``layer``, ``id``, ``change``
        (``added``, ``removed``, ``changed``, or ``layer added``/``layer removed`` for a whole
        layer), ``columns`` (the changed columns, ``geometry`` included) and ``detail``
        (old -> new values). Empty when the sets hold the same features.
    """
    rows: list[dict[str, str]] = []
    for layer in SCHEMAS:
        in_a, in_b = layer in a.layers, layer in b.layers
        if not in_a and not in_b:
            continue
        if in_a != in_b:
            n = len((a if in_a else b).layers[layer])
            rows.append({"layer": layer, "id": "", "change": "layer removed" if in_a else "layer added",
                         "columns": "", "detail": f"{n} feature(s)"})
            continue
        ra, rb = feature_records(a.layers[layer], layer), feature_records(b.layers[layer], layer)
        for key in sorted(set(ra) | set(rb)):
            if key not in rb:
                rows.append({"layer": layer, "id": key, "change": "removed", "columns": "", "detail": ""})
            elif key not in ra:
                rows.append({"layer": layer, "id": key, "change": "added", "columns": "", "detail": ""})
            elif ra[key] != rb[key]:
                order = [f.name for f in SCHEMAS[layer].fields] + ["geometry"]
                changed = [c for c in order if ra[key].get(c) != rb[key].get(c)]
                detail = "; ".join(
                    "geometry moved" if c == "geometry" else f"{c} {_short(ra[key].get(c))} -> {_short(rb[key].get(c))}"
                    for c in changed)
                rows.append({"layer": layer, "id": key, "change": "changed", "columns": ", ".join(changed),
                             "detail": detail})
    rows.sort(key=lambda r: (r["layer"], r["id"]))
    return pd.DataFrame(rows, columns=["layer", "id", "change", "columns", "detail"])
