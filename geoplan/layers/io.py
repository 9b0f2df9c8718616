"""Reading and writing layer sets: GeoJSON, Shapefile, FlatGeobuf folders and GeoPackages."""

from __future__ import annotations

import importlib
import json
import os
import re
import stat
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
from pyproj import CRS
from shapely.errors import GEOSException

from geoplan._errors import GeoplanError, LayerReadError, OutputError
from geoplan._io import write_geojson, write_gpkg, write_text_atomic
from geoplan.layers.schemas import SCHEMAS, LayerSchema, LayerSet, Problem, _coerce_numbers, _feature_ids

_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".fgb", ".shp")
_META_FILE = "layerset.json"

#: Layer sets that live in a database rather than in files: URL scheme -> the store module whose
#: ``read_url(url, required=...)`` reads one. The module is imported by name on first use: the
#: stores build on this package, so it must not import them itself.
URL_READERS: dict[str, str] = {"postgresql": "geoplan.store.read", "postgres": "geoplan.store.read"}


def layer_url_scheme(path: object) -> str | None:
    """Return the scheme of a layer-set URL (``"postgresql"``), or ``None`` for a file path."""
    if not isinstance(path, str) or "://" not in path:
        return None
    scheme = path.split("://", 1)[0].strip().lower()
    return scheme if scheme.isalpha() else None


# --------------------------------------------------------------------------------------
# reading


def _find_layer_file(folder: Path, name: str) -> Path | None:
    """Return the one file holding layer ``name`` in ``folder``; two candidates are an error naming both.

    A stale ``towns.geojson`` beside an edited ``towns.gpkg`` must not win silently.
    """
    found = [folder / f"{name}{suffix}" for suffix in _VECTOR_SUFFIXES if (folder / f"{name}{suffix}").is_file()]
    if len(found) > 1:
        raise LayerReadError(f"folder {folder}: layer '{name}' is in {len(found)} files: "
                             f"{', '.join(p.name for p in found)}; geoplan cannot tell which one is current",
                             fix=f"keep one of them (move or delete the other{'s' if len(found) > 2 else ''})")
    return found[0] if found else None


def layer_set_files(path: str | os.PathLike[str]) -> list[Path]:
    """Every file name a layer set at ``path`` uses or could use (to keep outputs off them).

    For a folder: ``<layer>.<suffix>`` for every layer kind and readable suffix (with the
    Shapefile's side files) and ``layerset.json``, present or not, since writing any of them
    would change what the folder reads as. For a GeoPackage: the file and its
    ``<stem>.layerset.json``.
    """
    root = Path(path)
    if not root.is_dir():
        return [root, root.with_name(f"{root.stem}.{_META_FILE}")]
    suffixes = (*_VECTOR_SUFFIXES, ".dbf", ".shx", ".prj", ".cpg")
    return [root / _META_FILE, *(root / f"{name}{suffix}" for name in SCHEMAS for suffix in suffixes)]


def _huge_integer(path: Path) -> str | None:
    """Find the first property holding an integer outside int64 in a GeoJSON file, as ``feature X: 'k' is N``."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    features = doc.get("features") if isinstance(doc, dict) else None
    for i, feature in enumerate(features if isinstance(features, list) else []):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            continue
        for key, value in props.items():
            if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
                return f"feature {props.get('id') or f'#{i + 1}'}: '{key}' is {value}"
    return None


def _json_booleans(path: Path, name: str, schema: LayerSchema, ids: np.ndarray, source: str) -> list[Problem]:
    """``true``/``false`` in a number column of a GeoJSON file (GDAL reads them as 1 and 0)."""
    numeric = [f.name for f in schema.fields if f.kind in ("int", "float")]
    try:
        data = path.read_bytes()
        if b"true" not in data and b"false" not in data:
            return []
        doc = json.loads(data)
    except (OSError, ValueError):
        return []  # GDAL read it; anything it tolerated and json does not is not a boolean question
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list) or len(features) != len(ids):
        return []
    found = []
    for i, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            continue
        for col in numeric:
            if isinstance(props.get(col), bool):
                found.append(Problem(
                    "error", name, str(ids[i]), "wrong_type",
                    f"'{col}' must be a number, got {str(props[col]).lower()} (a JSON boolean, which GDAL would "
                    f"read as {int(props[col])})", f"type the number in '{col}', or leave it empty if unknown",
                    source))
    return found


def _gdal_reason(exc: BaseException) -> str:
    """Return the first line of a GDAL/pyogrio error, without advice meant for GDAL's own tools."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    first = text.splitlines()[0]
    first = first.split("; It might help to specify the correct driver")[0]
    return first.replace("not recognized as being in a supported file format.",
                         "not recognized as a supported vector format")


def _is_wgs84_lonlat(crs: CRS) -> bool:
    return bool(crs.is_geographic) and crs.datum is not None and crs.datum.name.startswith("World Geodetic System 1984")


def _shapefile_name(name: str, used: set[str]) -> str:
    """Return the column name GDAL's Shapefile driver writes for ``name`` (10 characters, unique)."""
    out = name[:10]
    n = 1
    while out.lower() in used and n < 100:
        out = f"{name[:8]}_{n}" if n < 10 else f"{name[:8]}{n:02d}"
        n += 1
    used.add(out.lower())
    return out


def _restore_shapefile_names(columns: list[str], schema: LayerSchema) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Map Shapefile-truncated column names back to schema names.

    The dBase format keeps 10 characters per column name, so GDAL (and QGIS) write
    ``population_year`` as ``populati_1`` and ``resource_status`` as ``resource_s``. For each
    group of schema names sharing their first 10 characters, every order-preserving subset is
    laundered the way GDAL does; the columns are renamed only when exactly one subset gives
    the file's columns. Returns the renames and, for columns that could stand for several
    schema names, the candidates.
    """
    rename: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    families: dict[str, list[str]] = {}
    for f in schema.column_names:
        families.setdefault(f[:10].lower(), []).append(f)
    for prefix, members in families.items():
        if all(len(m) <= 10 for m in members):
            continue
        stem = prefix[:8]
        # GDAL's names for clashes: 8 characters + "_N" (N < 10) or + "NN".
        in_file = [c for c in columns if c.lower() == prefix
                   or (len(c) == 10 and c.lower().startswith(stem) and (c[8] == "_" or c[8].isdigit())
                       and c[9].isdigit())]
        if not in_file:
            continue
        matches = []
        for mask in range(1, 2 ** len(members)):
            subset = [m for i, m in enumerate(members) if mask >> i & 1]
            used: set[str] = set()
            if [_shapefile_name(m, used).lower() for m in subset] == [c.lower() for c in in_file]:
                matches.append(subset)
        for i, c in enumerate(in_file):
            candidates = sorted({m[i] for m in matches})
            if len(candidates) == 1 and candidates[0] != c:
                rename[c] = candidates[0]
            elif len(candidates) > 1:
                ambiguous[c] = candidates
    return rename, ambiguous


def _read_one(path: Path, layer: str | None, label: str, name: str, source: str
              ) -> tuple[gpd.GeoDataFrame, CRS | None, list[Problem]]:
    """Read one layer; return it in EPSG:4326, its CRS in the file, and problems noticed."""
    problems: list[Problem] = []
    schema = SCHEMAS[name]
    suffix = path.suffix.lower()
    gdf, unparsed = _read_frame(path, layer, label)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise LayerReadError(f"{label}: layer has no geometry column", fix="export the layer with its geometry")
    if suffix in (".geojson", ".json"):
        problems.extend(_json_booleans(path, name, schema, _feature_ids(gdf, schema.id_field), source))
    if unparsed:
        ids = _feature_ids(gdf, schema.id_field)
        for i, reason in sorted(unparsed.items()):
            problems.append(Problem("error", name, ids[i], "invalid_geometry", f"geometry cannot be read: {reason}",
                                    "redraw it: a line needs at least two different points", source))
    if suffix == ".shp":
        gdf = _full_shapefile_names(gdf, name, source, problems)
    native = gdf.crs
    if native is not None and not native.equals("EPSG:4326"):
        problems.extend(_crs_problems(gdf, native, name, suffix, source))
        try:
            gdf = gdf.to_crs(4326)
        except Exception as exc:  # any pyproj failure means "unusable CRS"
            raise LayerReadError(
                f"{label}: cannot reproject from {native.to_string()} to EPSG:4326: {exc}",
                fix="save the layer in EPSG:4326 (WGS 84)",
            ) from exc
    return gdf, native, problems


def _read_frame(path: Path, layer: str | None, label: str) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """Read the layer as it is in the file; also return the rows whose geometry GEOS cannot build (with why).

    Raises
    ------
    LayerReadError
        For text not in the file's encoding, a number beyond 64 bits in a GeoJSON (naming the
        feature), and any other file GDAL cannot read.
    """
    suffix = path.suffix.lower()
    unparsed: dict[int, str] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                gdf = pyogrio.read_dataframe(path, layer=layer)
            except GEOSException:
                # One geometry GEOS cannot build (a one-point line, say) must not hide the rest.
                gdf = pyogrio.read_dataframe(path, layer=layer, on_invalid="ignore")
                _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[])
                for i in np.flatnonzero(gdf.geometry.isna().to_numpy() & pd.notna(wkb)).tolist():
                    try:
                        shapely.from_wkb(wkb[i])
                    except GEOSException as exc:
                        unparsed[int(i)] = str(exc).split(": ", 1)[-1]
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        if suffix == ".shp":
            fix = (f"write the file's real encoding (for Cyrillic usually CP1251) into "
                   f"{path.with_suffix('.cpg').name}, or re-save the layer with encoding UTF-8")
        else:
            fix = ("re-save the file as UTF-8 (QGIS: Export ▸ Save Features As… ▸ Encoding UTF-8; "
                   "or iconv -f CP1251 -t UTF-8)")
        why = "GeoJSON must be UTF-8 (RFC 7946, section 11)" if suffix in (".geojson", ".json") else "cannot decode it"
        raise LayerReadError(
            f"{label}: text is not in the file's declared encoding {exc.encoding.upper()} (byte 0x{bad}); {why}",
            fix=fix,
        ) from exc
    except Exception as exc:  # any GDAL failure means "unreadable file"
        huge = _huge_integer(path) if suffix in (".geojson", ".json") else None
        if huge is not None:  # GDAL refuses the whole file over one number; name the feature
            raise LayerReadError(f"{label}: {huge}, beyond the 64-bit integer range GDAL can read",
                                 fix="correct the number (a population is at most 100,000,000)") from exc
        raise LayerReadError(
            f"{label}: cannot read layer: {_gdal_reason(exc)}",
            fix="open the file in QGIS to see whether it is complete; re-export it as GeoPackage or GeoJSON (UTF-8)",
        ) from exc
    return gdf, unparsed


def _full_shapefile_names(gdf: gpd.GeoDataFrame, name: str, source: str, problems: list[Problem]
                          ) -> gpd.GeoDataFrame:
    """Give Shapefile columns (cut to 10 characters) their schema names; report those that stay uncertain."""
    schema = SCHEMAS[name]
    rename, ambiguous = _restore_shapefile_names([str(c) for c in gdf.columns], schema)
    gdf = gdf.rename(columns=rename)
    for col, candidates in ambiguous.items():
        # A required column whose identity is uncertain (is 'population' population_year cut
        # short?) must not be trusted silently.
        required = any(schema.field(cand).required for cand in candidates)
        use = f"it is read as '{col}' but cannot be trusted" if col in schema.column_names else "it is ignored"
        problems.append(Problem(
            "error" if required else "warning", name, None, "truncated_column",
            f"Shapefile column '{col}' may be any of {', '.join(candidates)} (the format cuts names to 10 "
            f"characters); {use}",
            "rename the column to its full name (QGIS: Layer Properties ▸ Fields) or use GeoPackage, "
            "which keeps full column names", source))
    return gdf


def _crs_problems(gdf: gpd.GeoDataFrame, native: CRS, name: str, suffix: str, source: str) -> list[Problem]:
    """Problems with a layer's declared CRS (other than EPSG:4326): degrees labelled as metres, GeoJSON ``crs``."""
    problems: list[Problem] = []
    geoms = gdf.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if native.is_projected and present.any():
        x0, y0, x1, y1 = shapely.total_bounds(geoms[present])
        if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
            problems.append(Problem(
                "error", name, None, "crs_mismatch",
                f"the layer is labelled {native.name} (projected, metres) but its coordinates "
                f"({x0:.4g}..{x1:.4g}, {y0:.4g}..{y1:.4g}) look like longitude/latitude degrees",
                "assign EPSG:4326 instead (QGIS: Layer ▸ Set CRS of Layer; GeoJSON: delete the 'crs' member)",
                source))
    if suffix in (".geojson", ".json") and not _is_wgs84_lonlat(native):
        problems.append(Problem(
            "warning", name, None, "unexpected_crs",
            f"the GeoJSON declares {native.name} in a 'crs' member; RFC 7946 GeoJSON is WGS 84 lon/lat only and "
            "web maps and strict readers ignore the member, placing the features wrongly (geoplan reprojects it)",
            "re-save the layer in EPSG:4326 without a 'crs' member (geoplan layers export, or QGIS Save "
            "Features As with CRS EPSG:4326 and RFC7946=YES)", source))
    return problems


def read_layers(path: str | os.PathLike[str], *, required: tuple[str, ...] = ("towns", "centres", "roads")) -> LayerSet:
    """Read a layer set from a folder or a GeoPackage.

    Parameters
    ----------
    path
        A folder holding ``towns``, ``centres`` and ``roads`` (and optionally ``rail_stations``
        and ``rail``) as ``.geojson``, ``.gpkg``, ``.fgb`` or ``.shp`` files named after the
        layer, or one ``.gpkg`` file holding layers with those names. An optional
        ``layerset.json`` in the folder (or beside the GeoPackage, named
        ``<stem>.layerset.json``) declares ``name`` and ``extent``.
    required
        Layers that must be present; the rail layers are optional by default.

    Returns
    -------
    LayerSet
        Layers reprojected to EPSG:4326 (when their CRS is known), unvalidated: call
        :func:`validate` next.

    Raises
    ------
    LayerReadError
        When the path does not exist, a required layer is missing, or a file cannot be read.

    Notes
    -----
    - GeoJSON must be UTF-8 (RFC 7946); a file in another encoding (CP1251, Latin-1) is
      refused with a :class:`LayerReadError` rather than read as garbled text. A Shapefile's
      encoding comes from its ``.cpg`` file; without one, Cyrillic text usually reads garbled
      and :func:`validate` warns (``suspect_encoding``).
    - Shapefile column names hold 10 characters, so GDAL and QGIS write ``population_year``
      as ``populati_1`` and ``resource_status`` as ``resource_s``. Such names are mapped back
      to the schema's when the file's columns allow one reading only (always the case for a
      layer with all its schema columns, in schema order); otherwise they are left as they are
      and reported (``truncated_column``). GeoPackage has no such limit.
    - A geometry GEOS cannot build (a one-point line) becomes empty and is reported as
      ``invalid_geometry``, rather than making the whole layer unreadable.
    - ``path`` may also be a ``postgresql://user@host:port/db?schema=kz`` URL: the layer set
      pushed to that PostGIS schema (see :mod:`geoplan.store`).
    """
    scheme = layer_url_scheme(path)
    if scheme is not None:
        module = URL_READERS.get(scheme)
        if module is None:
            shown = re.sub(r"://([^:@/]*):[^@/]*@", r"://\1:***@", str(path))
            raise LayerReadError(f"{shown}: {scheme}:// is not a place geoplan reads layer sets from",
                                 fix="pass a folder, a GeoPackage or a postgresql://user@host:port/db?schema=NAME URL")
        reader = importlib.import_module(module).read_url
        result: LayerSet = reader(str(path), required=required)
        return result
    root = Path(path)
    try:
        exists = root.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL character
        raise LayerReadError(f"{root}: not a usable path ({getattr(exc, 'strerror', None) or exc})",
                             fix="pass the folder or GeoPackage that holds the layers") from None
    if not exists:
        raise LayerReadError(f"{root}: no such file or folder",
                             fix="pass the folder or GeoPackage that holds the layers")
    mode = root.stat().st_mode
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        # GDAL would block forever reading a FIFO that nobody writes to.
        raise LayerReadError(f"{root}: is neither a folder nor a file (a FIFO, socket or device)",
                             fix="pass the folder or GeoPackage that holds the layers")
    if not os.access(root, os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)):
        raise LayerReadError(f"{root}: permission denied (cannot {'list and enter' if stat.S_ISDIR(mode) else 'read'} "
                             "it)", fix=f"allow reading it (chmod u+r{'x' if stat.S_ISDIR(mode) else ''} {root})")
    try:
        return _read_path(root, required)
    except PermissionError as exc:
        raise LayerReadError(f"{exc.filename or root}: permission denied",
                             fix="allow reading the layer files and entering their folder (chmod u+rx)") from None


def _read_path(root: Path, required: tuple[str, ...]) -> LayerSet:
    layers: dict[str, gpd.GeoDataFrame] = {}
    sources: dict[str, str] = {}
    native: dict[str, CRS | None] = {}
    read_problems: list[Problem] = []
    meta_path: Path
    if root.is_dir():
        meta_path = root / _META_FILE
        for name in SCHEMAS:
            file = _find_layer_file(root, name)
            if file is None:
                continue
            gpkg_layer = name if file.suffix == ".gpkg" else None
            label = f"{file}" + (f" (layer {name})" if gpkg_layer else "")
            sources[name] = str(file)
            layers[name], native[name], found = _read_one(file, gpkg_layer, label, name, sources[name])
            read_problems.extend(found)
        where = f"folder {root}"
    else:
        meta_path = root.with_name(f"{root.stem}.{_META_FILE}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # GDAL's notes on odd GeoPackage headers; errors still raise
                available = [str(n) for n, _ in pyogrio.list_layers(root)]
        except Exception as exc:  # any GDAL failure means "not a vector dataset"
            raise LayerReadError(
                f"{root}: not a readable vector dataset ({_gdal_reason(exc)})",
                fix="pass a GeoPackage or a folder of GeoJSON/Shapefile/FlatGeobuf files",
            ) from exc
        for name in SCHEMAS:
            if name in available:
                label = f"{root} (layer {name})"
                sources[name] = f"{root}:{name}"
                layers[name], native[name], found = _read_one(root, name, label, name, sources[name])
                read_problems.extend(found)
        where = f"{root} (layers: {', '.join(available) or 'none'})"
    missing = [n for n in required if n not in layers]
    if missing:
        raise LayerReadError(
            f"{where}: missing layer(s) {', '.join(missing)}",
            fix="provide " + ", ".join(f"'{m}' ({SCHEMAS[m].description})" for m in missing)
            + " as <name>.geojson/.gpkg/.shp/.fgb in the folder or as GeoPackage layers with those names",
        )
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LayerReadError(f"{meta_path}: not valid JSON ({exc})", fix="fix or delete the file") from exc
        _check_meta(meta_path, meta)
    return LayerSet(layers, sources, meta, native, read_problems)


def _check_meta(path: Path, meta: Any) -> None:
    """``layerset.json`` must be an object; its ``extent`` four numbers in degrees, min before max."""
    if not isinstance(meta, dict):
        raise LayerReadError(f"{path}: must hold a JSON object ({{\"name\": ..., \"extent\": [...]}}), "
                             f"not a {type(meta).__name__}",
                             fix="write the settings as one JSON object, or delete the file")
    if "extent" not in meta:
        return
    extent = meta["extent"]
    shape = "'extent' must be [lon_min, lat_min, lon_max, lat_max] in degrees"
    if not (isinstance(extent, list) and len(extent) == 4):
        raise LayerReadError(f"{path}: {shape}, got {json.dumps(extent)[:80]}", fix="correct 'extent'")
    bad = [i for i, v in enumerate(extent)
           if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v)]
    if bad:
        keys = ("lon_min", "lat_min", "lon_max", "lat_max")
        raise LayerReadError(f"{path}: {shape}; {', '.join(f'{keys[i]} is {json.dumps(extent[i])}' for i in bad)}",
                             fix="write plain numbers, e.g. [46.0, 40.0, 88.0, 56.0]")
    x0, y0, x1, y1 = (float(v) for v in extent)
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise LayerReadError(f"{path}: {shape} (min before max), got {extent}",
                             fix="correct 'extent' (longitudes -180..180, latitudes -90..90)")


# --------------------------------------------------------------------------------------
# normalising and writing


def normalise(gdf: gpd.GeoDataFrame, schema: LayerSchema) -> gpd.GeoDataFrame:
    """Columns in schema order with canonical dtypes; multi-points and multi-lines unwrapped.

    Assumes the layer passed :func:`validate` (numbers parse, ids are unique).
    """
    out = gpd.GeoDataFrame(index=range(len(gdf)))
    for f in schema.fields:
        if f.name not in gdf.columns:
            continue
        col = gdf[f.name].reset_index(drop=True)
        if f.kind == "int":
            out[f.name] = _coerce_numbers(col)[0].round().astype("Int64")
        elif f.kind == "float":
            out[f.name] = _coerce_numbers(col)[0].astype(float)
        else:
            out[f.name] = col.astype(object).where(col.notna(), None).map(lambda v: v if v is None else str(v))
    extra = [c for c in gdf.columns if c not in schema.column_names and c != gdf.geometry.name]
    for extra_col in extra:
        out[extra_col] = gdf[extra_col].reset_index(drop=True)
    geoms = gdf.geometry.to_numpy()
    if schema.geometry_type != "Polygon":  # a polygon layer keeps its multi-part features
        # Only a multi-geometry of one part becomes that part; one of several parts stays whole.
        single_multi = (shapely.get_type_id(geoms) >= 4) & (shapely.get_num_geometries(geoms) == 1)
        geoms = np.where(single_multi, shapely.get_geometry(geoms, 0), geoms)
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=gdf.crs), crs=gdf.crs)


def _with_integer_columns(gdf: gpd.GeoDataFrame, schema: LayerSchema | None) -> gpd.GeoDataFrame:
    """``gdf`` with its schema's integer columns as nullable integers where every value is one.

    Readers give an integer column with empty cells as float (``1999.0``); written back like
    that it becomes a REAL GeoPackage field and ``1999.0`` in GeoJSON. Columns holding anything
    but whole numbers (a forced export of a layer with errors) are left as they are.
    """
    if schema is None:
        return gdf
    out = gdf
    for f in schema.fields:
        if f.kind != "int" or f.name not in gdf.columns or pd.api.types.is_integer_dtype(gdf[f.name]):
            continue
        parsed, bad = _coerce_numbers(gdf[f.name])
        vals = parsed.to_numpy()
        ok = ~np.isnan(vals)
        if bad.any() or (gdf[f.name].notna().to_numpy() & ~ok).any() or (np.abs(vals[ok]) >= 2**53).any():
            continue
        if (vals[ok] != np.round(vals[ok])).any():
            continue
        if out is gdf:
            out = gdf.copy()
        out[f.name] = parsed.round().astype("Int64")
    return out


def write_layers(layers: LayerSet, path: str | os.PathLike[str]) -> Path:
    """Write a layer set as one GeoPackage (``*.gpkg``) or a folder of RFC 7946 GeoJSON files.

    Every file is written to a temporary file and renamed into place, so an existing file is
    replaced only by a complete one, and the same layers give byte-identical files. The layer
    set's metadata is written beside it (``layerset.json`` in a folder, ``<stem>.layerset.json``
    beside a GeoPackage); a stale ``<stem>.layerset.json`` from an earlier export is removed
    when the layer set has none (a folder's ``layerset.json`` is left as it is).

    Parameters
    ----------
    layers
        The layer set to write.
    path
        A ``.gpkg`` file (one layer per layer of the set), or a folder that receives
        ``<layer>.geojson`` files.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    GeoplanError
        When the target cannot be written (permissions, a folder in the way, a full disk).
    """
    target = Path(path)
    try:
        if target.suffix.lower() == ".gpkg":
            sidecar = target.with_name(f"{target.stem}.{_META_FILE}")
            frames = {name: _with_integer_columns(gdf, SCHEMAS.get(name)) for name, gdf in layers.layers.items()}
            write_gpkg(target, frames, fix="choose a writable path (a .gpkg file name or a folder) with free space")
            if layers.meta:
                write_text_atomic(sidecar, json.dumps(layers.meta, indent=2, ensure_ascii=False) + "\n")
            elif sidecar.is_file():
                sidecar.unlink()
            return target
        target.mkdir(parents=True, exist_ok=True)
        for name, gdf in layers.layers.items():
            if gdf.crs is None:
                raise GeoplanError(f"layer '{name}' has no CRS; cannot write it as RFC 7946 GeoJSON to {target}",
                                   fix="assign the layer's CRS, or export to a .gpkg file")
            write_geojson(_with_integer_columns(gdf, SCHEMAS.get(name)), target / f"{name}.geojson", name=name)
        if layers.meta:
            write_text_atomic(target / _META_FILE, json.dumps(layers.meta, indent=2, ensure_ascii=False) + "\n")
        return target
    except OutputError as exc:
        raise OutputError(f"{target}: cannot write the layer set: {exc.message.split(': cannot write: ', 1)[-1]}",
                          fix=exc.fix, path=exc.path) from exc
    except GeoplanError:
        raise
    except (OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        # ValueError: values JSON cannot hold (infinite coordinates) when exporting with errors.
        raise GeoplanError(
            f"{target}: cannot write the layer set: {_gdal_reason(exc)}",
            fix="choose a writable path (a .gpkg file name or a folder) with free space",
        ) from exc
