"""Low-level writers shared by every stage: atomic files, RFC 7946 GeoJSON, CSV, GeoPackage, bounded YAML.

Outputs are written to a temporary file in the target folder, checked by reading them back
(:func:`verify_file`) and renamed into place, so a crash, a kill or a full disk never leaves a
half-written file behind, and the same input always gives the same bytes (stable key order,
rounded coordinates, no timestamps). Several files written as one set (planned, locked,
committed all-or-nothing) are the job of :mod:`geoplan._outputs`.

CSV cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are prefixed with a single quote (OWASP "CSV injection");
plain numbers, negative ones included, stay numbers.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from geoplan._errors import AnalysisError, GeoplanError, OutputError
from geoplan.settings import GEOJSON_PRECISION, GPKG_TIMESTAMP


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; verify it and rename it onto ``path`` on success.

    The temporary file is removed if the block raises or the written file does not read back
    (:func:`verify_file`), so the previous version of ``path`` (if any) is left untouched.

    Raises
    ------
    OutputError
        When ``path`` is a folder, its folder cannot be created or written, the write fails
        (a full disk, a quota) or the written file is unreadable.
    """
    target = Path(path)
    fix = "check that the folder is writable and the disk is not full"
    if target.is_dir():
        raise OutputError(f"{target}: cannot write: it is a folder",
                          fix="give the name of a file (e.g. inside that folder)", path=target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Keep the real suffix last: GDAL picks drivers and checks conformance by extension.
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    except (OSError, ValueError) as exc:
        raise OutputError(f"{target}: cannot write: {error_reason(exc)}", fix=fix, path=target) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers such as GDAL want to create the file themselves
    try:
        try:
            yield tmp_path
            verify_file(tmp_path, label=target)
            os.replace(tmp_path, target)
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"{target}: cannot write: {error_reason(exc)}", fix=fix, path=target) from exc
    finally:
        with contextlib.suppress(OSError):
            if tmp_path.exists():
                tmp_path.unlink()


def error_reason(exc: BaseException) -> str:
    """Return a one-line reason for an OS or library error (``No space left on device``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return first_line(exc)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (LF line endings)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return Path(path)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def json_value(value: Any) -> Any:
    """Turn a pandas/numpy scalar into a JSON-safe Python value (NaN and NaT become null)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [json_value(v) for v in value.tolist()]
    return value


def rfc7946_geometries(geoms: gpd.GeoSeries, *, precision: int = GEOJSON_PRECISION) -> np.ndarray:
    """Geometries in EPSG:4326, rounded, with counter-clockwise exterior rings (RFC 7946 3.1.6)."""
    if geoms.crs is None:
        raise ValueError("geometries have no CRS; cannot write RFC 7946 GeoJSON")
    data = (geoms.to_crs(4326) if not geoms.crs.equals("EPSG:4326") else geoms).to_numpy()
    rounded = shapely.transform(data, lambda xy: np.round(xy, precision))
    # Rounding can flip a degenerate ring; orient after rounding so the output is right.
    return shapely.orient_polygons(rounded, exterior_cw=False)


def geojson_text(
    gdf: gpd.GeoDataFrame,
    *,
    id_column: str | None = "id",
    precision: int = GEOJSON_PRECISION,
    name: str | None = None,
) -> str:
    """Serialise ``gdf`` as an RFC 7946 FeatureCollection, one feature per line.

    No ``crs`` member is written (RFC 7946 requires WGS 84 lon/lat), coordinates are rounded
    to ``precision`` decimals and exterior rings are counter-clockwise. The feature ``id``
    member carries ``id_column`` when present. Key order is stable, so the same data always
    gives the same text.
    """
    geoms = rfc7946_geometries(gdf.geometry, precision=precision)
    props = gdf.drop(columns=gdf.geometry.name)
    columns = [str(c) for c in props.columns]
    records = props.to_numpy(dtype=object)
    lines = []
    for geom, row in zip(geoms, records, strict=True):
        properties = {c: json_value(v) for c, v in zip(columns, row, strict=True)}
        feature: dict[str, Any] = {"type": "Feature"}
        if id_column is not None and id_column in properties and properties[id_column] is not None:
            feature["id"] = properties[id_column]
        feature["properties"] = properties
        feature["geometry"] = None if geom is None or shapely.is_empty(geom) else shapely.geometry.mapping(geom)
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
    head = {"type": "FeatureCollection"}
    if name:
        head["name"] = name
    opening = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    if not lines:
        return opening + ',"features":[]}\n'
    return opening + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def write_geojson(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    id_column: str | None = "id",
    precision: int = GEOJSON_PRECISION,
    name: str | None = None,
) -> Path:
    """Write ``gdf`` to ``path`` as RFC 7946 GeoJSON, atomically. See :func:`geojson_text`."""
    return write_text_atomic(path, geojson_text(gdf, id_column=id_column, precision=precision, name=name))


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a plain table as UTF-8 CSV with LF line endings, atomically.

    Text cells and column names that a spreadsheet would run as a formula are neutralised
    (:func:`neutralise_csv_cell`); numbers are written as they are.
    """
    return write_text_atomic(path, csv_safe(df).to_csv(index=False, lineterminator="\n"))


# --------------------------------------------------------------------------------------
# CSV injection

#: First characters that make Excel, LibreOffice and Google Sheets read a cell as a formula
#: (OWASP "CSV Injection": ``=``, ``+``, ``-``, ``@``, tab and carriage return).
CSV_FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise_csv_cell(value: Any) -> Any:
    r"""Return ``value`` safe for a spreadsheet: text a spreadsheet would execute gets a leading ``'``.

    Following OWASP's advice, a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return is prefixed with a single quote, which spreadsheets show as text and do not
    evaluate. Text that is a plain number (``-12.5``, ``+7``) is left alone: a spreadsheet reads
    it as that number and runs nothing. Anything that is not text is returned unchanged.

    Examples
    --------
    >>> neutralise_csv_cell("=HYPERLINK(\"http://x\")")
    '\'=HYPERLINK("http://x")'
    >>> neutralise_csv_cell("-12.5"), neutralise_csv_cell(-3), neutralise_csv_cell("Aksu")
    ('-12.5', -3, 'Aksu')
    """
    if isinstance(value, str) and value.startswith(CSV_FORMULA_CHARS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` whose text cells and column names pass :func:`neutralise_csv_cell`."""
    out = df.copy()
    out.columns = [neutralise_csv_cell(str(c)) for c in out.columns]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            out.isetitem(i, col.astype(object).map(neutralise_csv_cell).to_numpy(dtype=object))
    return out


# --------------------------------------------------------------------------------------
# reading a written file back

_VERIFIED: dict[tuple[int, int, int, int], None] = {}


def verify_file(path: str | os.PathLike[str], *, label: str | os.PathLike[str] | None = None) -> None:
    """Read a file just written back in full, by its format; raise if it is incomplete.

    GeoTIFF: every block decoded; GeoPackage: SQLite integrity check and a layer list;
    GeoJSON/JSON: parsed; CSV/HTML/YAML/QML/SLD: decoded as UTF-8; PNG: signature and final
    ``IEND`` chunk. Other files: a regular file. A writer that meets a full disk does not always
    raise (GDAL may only log while flushing its tiles): this check is what keeps a truncated
    file from replacing a good one.

    Parameters
    ----------
    path
        The file to check.
    label
        The name to use in the message (the final name of a temporary file).

    Raises
    ------
    OutputError
        Naming ``label`` (or ``path``) and what is wrong.
    """
    p = Path(path)
    name = Path(label) if label is not None else p
    try:
        st = p.stat()
    except OSError as exc:
        raise OutputError(f"{name}: the file was not written ({error_reason(exc)})",
                          fix="check that the folder is writable and the disk is not full", path=name) from exc
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{name}: the output is not a regular file", fix="remove what is in its place", path=name)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    suffix = p.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import rasterio

            with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(p) as src:
                for _, window in src.block_windows(1):
                    src.read(window=window)
        elif suffix == ".gpkg":
            con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                check = con.execute("PRAGMA quick_check").fetchone()
                con.execute("SELECT count(*) FROM gpkg_contents").fetchone()
            finally:
                con.close()
            if not check or check[0] != "ok":
                raise ValueError(f"SQLite integrity check: {check[0] if check else 'no answer'}")
        elif suffix in (".geojson", ".json"):
            json.loads(p.read_bytes())
        elif suffix in (".csv", ".html", ".yaml", ".yml", ".qml", ".sld"):
            p.read_bytes().decode("utf-8")
        elif suffix == ".png":
            data = p.read_bytes()
            if not (data.startswith(b"\x89PNG\r\n\x1a\n") and data[-12:-8] == b"\x00\x00\x00\x00"
                    and data[-8:-4] == b"IEND"):
                raise ValueError("PNG is truncated")
    except OutputError:
        raise
    except Exception as exc:  # any reader failure means "the file is not complete"
        raise OutputError(f"{name}: the file written cannot be read back ({error_reason(exc)}); the previous "
                          "version, if any, is kept", fix="check free disk space and quotas, then run again",
                          path=name) from exc
    _VERIFIED[key] = None
    if len(_VERIFIED) > 4096:
        _VERIFIED.clear()


# --------------------------------------------------------------------------------------
# YAML with bounded alias expansion

#: A YAML document may use at most this many aliases (``*name``) ...
YAML_MAX_ALIASES = 100
#: ... and expand to at most this many nodes with every alias followed.
YAML_MAX_NODES = 100_000


class BoundedSafeLoader(yaml.SafeLoader):
    """A safe loader that refuses alias bombs ("billion laughs") and recursive aliases.

    A few hundred bytes of nested aliases expand to gigabytes as soon as something walks the
    data (validation, an error message); PyYAML itself sets no bound. After composing a
    document this loader counts its aliases and its size with every alias expanded, and raises
    a :class:`yaml.composer.ComposerError` (with the line of the document) beyond
    :data:`YAML_MAX_ALIASES` aliases or :data:`YAML_MAX_NODES` nodes, or on an alias that
    contains itself.
    """

    def compose_document(self) -> yaml.Node | None:
        node: yaml.Node | None = super().compose_document()
        if node is not None:
            _check_expansion(node)
        return node

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases = getattr(self, "_aliases", 0) + 1
            if self._aliases > YAML_MAX_ALIASES:
                event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
                raise yaml.composer.ComposerError(
                    None, None, f"more than {YAML_MAX_ALIASES} aliases (*name); alias expansion is bounded",
                    event.start_mark)
        return super().compose_node(parent, index)


def _check_expansion(root: yaml.Node) -> None:
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise yaml.composer.ComposerError(None, None, "an alias that contains itself (recursive data)",
                                              node.start_mark)
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > YAML_MAX_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"the document expands to more than {YAML_MAX_NODES:,} values through its aliases",
                    child.start_mark)
        active.discard(key)
        sizes[key] = total
        return total

    size(root)


@contextlib.contextmanager
def gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL config options for the block and restore the previous values."""
    import pyogrio

    previous = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)


def first_line(exc: BaseException) -> str:
    """Return the first line of an error's message (its class name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_gpkg(
    path: str | os.PathLike[str],
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    geometry_types: Mapping[str, tuple[str | None, bool | None]] | None = None,
    version: str | None = None,
    metadata: Mapping[str, str] | None = None,
    finish: Callable[[Path], None] | None = None,
    error: type[GeoplanError] = GeoplanError,
    fix: str = "choose a writable path (a .gpkg file name) with free space",
) -> Path:
    """Write ``layers`` into one GeoPackage, atomically and byte-reproducibly.

    The one GeoPackage writer of geoplan: every layer gets a spatial index, GDAL's "now" is
    fixed to :data:`~geoplan.settings.GPKG_TIMESTAMP` so the same layers give the same bytes,
    and the file is written to a temporary file that replaces ``path`` only when complete.

    Parameters
    ----------
    path
        The ``.gpkg`` file to write.
    layers
        Layer name -> frame, written in this order.
    geometry_types
        Layer name -> (GeoPackage geometry type, promote single parts to multi) for layers
        whose type should not be guessed from the data.
    version
        GeoPackage version (``"1.2"`` opens without warnings in older GDAL and QGIS); GDAL's
        default when ``None``.
    metadata
        Key/value pairs stored as the GeoPackage's dataset metadata (``gpkg_metadata``).
    finish
        Called with the temporary file after the layers are written and before the rename
        (e.g. to add a ``layer_styles`` table).
    error
        The error class to raise.
    fix
        The advice of the error.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    GeoplanError
        Of class ``error``, naming the file and the layer that could not be written.
    OutputError
        When the file cannot be created, verified or renamed into place (:func:`atomic_path`).
    """
    import pyogrio

    target = Path(path)
    types = geometry_types or {}
    with atomic_path(target) as tmp, gdal_config(OGR_CURRENT_DATE=GPKG_TIMESTAMP):
        for name, gdf in layers.items():
            gtype, promote = types.get(name, (None, None))
            first = not tmp.exists()
            try:
                pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", append=not first,
                                        geometry_type=gtype, promote_to_multi=promote,
                                        dataset_options={"VERSION": version} if first and version else None,
                                        dataset_metadata=dict(metadata) if first and metadata else None,
                                        layer_options={"SPATIAL_INDEX": "YES"})
            except Exception as exc:  # GDAL reports full disks and unwritable values in many classes
                raise error(f"{target}: cannot write layer '{name}': {first_line(exc)}", fix=fix) from exc
        if finish is not None:
            finish(tmp)
    return target


def read_csv_table(path: str | os.PathLike[str], *, columns: tuple[str, ...] | list[str], what: str,
                   missing_fix: str) -> pd.DataFrame:
    """Read a small CSV table as text, checking that it exists, parses and has its columns.

    Parameters
    ----------
    path
        The CSV file (UTF-8, with or without a byte-order mark).
    columns
        The columns it must have (more are kept).
    what
        What the table is, for messages (``"quota table"``).
    missing_fix
        The fix given when the file does not exist.

    Returns
    -------
    pandas.DataFrame
        Every cell as text; empty cells are ``""``.

    Raises
    ------
    AnalysisError
        Naming the file and the fix, for a missing file, an unreadable one or missing columns.
    """
    p = Path(path)
    if not p.is_file():
        raise AnalysisError(f"{p}: {what} not found", fix=missing_fix)
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise AnalysisError(f"{p}: cannot read the {what} ({exc})", fix="save it as a UTF-8 CSV") from None
    lost = [c for c in columns if c not in raw.columns]
    if lost:
        raise AnalysisError(f"{p}: missing column(s) {', '.join(lost)}",
                            fix=f"the {what} needs " + ", ".join(columns))
    return raw
