"""Network edits of a scenario applied to a layer set: added roads, changed classes and speeds.

:func:`apply_edits` applies the edits; :func:`scenario_layers` gives the layers an analysis
runs on under a scenario (its layer set, its roads replacement, its edits, validated).
"""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geoplan._errors import LayerValidationError, ScenarioError
from geoplan.layers import SCHEMAS, LayerSet, Problem, read_layers, require_valid, validate
from geoplan.scenario.models import _GEOD, Scenario


def _read_added_roads(path: Path, where: str) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf: gpd.GeoDataFrame = pyogrio.read_dataframe(path)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(f"{where}: cannot read roads layer {path}: {reason}",
                            fix="give a GeoJSON, GeoPackage, Shapefile or FlatGeobuf of LineStrings") from exc
    if gdf.crs is None:
        raise ScenarioError(f"{where}: {path} has no CRS", fix="save the layer with its CRS (EPSG:4326 for lon/lat)")
    return gdf.to_crs(4326)


def _unknown_ids(ids: list[str], roads: gpd.GeoDataFrame) -> list[str]:
    known = set(roads["id"].astype(str))
    return [i for i in ids if i not in known]


def _raise_unknown(ids: list[str], roads: gpd.GeoDataFrame, where: str, source: str) -> None:
    known = sorted(roads["id"].astype(str))
    hints = [f"{i} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(i, known, n=1)) else i for i in ids]
    raise ScenarioError(f"{where}: no road with id {', '.join(hints)} in the roads layer ({source})",
                        fix="use ids from the roads layer's 'id' column (or of a layer added by an earlier edit)")


def _node_positions(roads: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    """Position of each named node (from_node/to_node) in a roads layer, from the line ends."""
    if not {"from_node", "to_node"} <= set(roads.columns) or roads.empty:
        return {}
    geoms = roads.geometry.to_numpy()
    geoms = np.where(shapely.get_type_id(geoms) == 5, shapely.get_geometry(geoms, 0), geoms)
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    last = shapely.get_coordinates(shapely.get_point(geoms, -1))
    out: dict[str, tuple[float, float]] = {}
    for col, xy in (("from_node", first), ("to_node", last)):
        for node, (x, y) in zip(roads[col].to_numpy(dtype=object), xy, strict=True):
            if isinstance(node, str) and node and node not in out:
                out[node] = (float(x), float(y))
    return out


def _check_added(new: gpd.GeoDataFrame, base: gpd.GeoDataFrame, layers: LayerSet, path: Path, where: str,
                 snap_tolerance_m: float) -> None:
    """Check the schema, geometry, ids and connection of roads added by a scenario."""
    probe = LayerSet({"roads": new}, sources={"roads": str(path)}, meta=dict(layers.meta))
    errors = [p for p in validate(probe) if p.severity == "error"]
    if errors:
        shown = "\n".join(f"  {p}" for p in errors[:10])
        if len(errors) > 10:
            shown += f"\n  ... and {len(errors) - 10} more"
        raise ScenarioError(f"{where}: the roads in {path} have {len(errors)} error(s):\n{shown}",
                            fix="correct the features listed (`geoplan layers check` explains each check)")
    clash = sorted(set(new["id"].astype(str)) & set(base["id"].astype(str)))
    if clash:
        raise ScenarioError(f"{where}: road id(s) {', '.join(clash[:10])} in {path} are already in the roads layer",
                            fix="give planned roads their own ids (e.g. a prefix such as KZP)")
    # A named end node must sit where the existing network has that node, or it will not connect.
    known = _node_positions(base)
    ends = _node_positions(new)
    far = []
    for node, (x, y) in ends.items():
        if node in known:
            geod_m = _metres(x, y, *known[node])
            if geod_m > max(snap_tolerance_m, 1.0):
                far.append(f"{node} ({geod_m / 1000:.1f} km away)")
    if far:
        raise ScenarioError(f"{where}: roads in {path} end at node(s) {', '.join(far)} from the network's node of the "
                            "same name",
                            fix="move the line ends onto the existing nodes (QGIS snapping) or rename them")
    combined = pd.concat([base, new[[c for c in new.columns if c in base.columns or c == new.geometry.name]]],
                         ignore_index=True)
    combined = gpd.GeoDataFrame(combined, geometry=base.geometry.name, crs=4326)
    added = set(new["id"].astype(str))
    loose = [p for p in validate(LayerSet({"roads": combined}, sources={"roads": str(path)}, meta=dict(layers.meta)))
             if p.check == "disconnected_component" and p.feature_id in added]
    if loose:
        raise ScenarioError(f"{where}: roads in {path} are not connected to the network: {loose[0].message}",
                            fix="make the planned road start and end on existing road nodes")


def _metres(x1: float, y1: float, x2: float, y2: float) -> float:
    return float(_GEOD.inv(x1, y1, x2, y2)[2])


def apply_edits(layers: LayerSet, scenario: Scenario) -> LayerSet:
    """Apply a scenario's network edits to a copy of ``layers``.

    Edits run in list order; within one edit: ``add_roads``, then ``set_class``, ``set_speed``
    and ``close``. Later edits may refer to roads added by earlier ones. The input is not
    modified. ``meta["edits"]`` of the result lists what was applied, one line per operation.

    Parameters
    ----------
    layers
        The layer set the scenario runs on.
    scenario
        The scenario whose ``edits`` to apply (``network.snap_tolerance_m`` decides how close an
        added road's end must be to the existing node of the same name).

    Raises
    ------
    ScenarioError
        Naming the scenario key when a road id is unknown, an added layer is unreadable,
        invalid, reuses an existing id or is not connected to the network.

    """
    out = layers.copy()
    if not scenario.edits:
        return out
    roads = out.roads.copy()
    src = out.sources.get("roads", "roads layer")
    log: list[str] = []
    for k, edit in enumerate(scenario.edits):
        label = f"{scenario.source}: edits[{k}]" + (f" ({edit.name})" if edit.name else "")
        if edit.add_roads is not None:
            path = scenario.resolve(edit.add_roads)
            new = _read_added_roads(path, f"{label}.add_roads")
            _check_added(new, roads, out, path, f"{label}.add_roads", scenario.network.snap_tolerance_m)
            keep = [c for c in new.columns if c in SCHEMAS["roads"].column_names or c == new.geometry.name]
            new = new[keep]
            if new.geometry.name != roads.geometry.name:
                new = new.rename_geometry(roads.geometry.name)
            roads = gpd.GeoDataFrame(pd.concat([roads, new], ignore_index=True), geometry=roads.geometry.name, crs=4326)
            log.append(f"edits[{k}]: added {len(new)} road(s) from {path.name}: {', '.join(new['id'].astype(str))}")
        if edit.set_class:
            bad = _unknown_ids(list(edit.set_class), roads)
            if bad:
                _raise_unknown(bad, roads, f"{label}.set_class", src)
            ids = roads["id"].astype(str)
            for rid, cls in edit.set_class.items():
                roads.loc[ids == rid, "road_class"] = cls
            log.append(f"edits[{k}]: class of {', '.join(f'{r}->{c}' for r, c in edit.set_class.items())}")
        if edit.set_speed:
            bad = _unknown_ids(list(edit.set_speed), roads)
            if bad:
                _raise_unknown(bad, roads, f"{label}.set_speed", src)
            if "speed_kph" not in roads.columns:
                roads["speed_kph"] = np.nan
            roads["speed_kph"] = pd.to_numeric(roads["speed_kph"], errors="coerce").astype(float)
            ids = roads["id"].astype(str)
            for rid, kph in edit.set_speed.items():
                roads.loc[ids == rid, "speed_kph"] = float(kph)
            log.append(f"edits[{k}]: speed of {', '.join(f'{r}->{v:g} km/h' for r, v in edit.set_speed.items())}")
        if edit.close:
            bad = _unknown_ids(list(edit.close), roads)
            if bad:
                _raise_unknown(bad, roads, f"{label}.close", src)
            roads = roads[~roads["id"].astype(str).isin(edit.close)].reset_index(drop=True)
            log.append(f"edits[{k}]: closed {', '.join(edit.close)}")
    out.layers["roads"] = roads
    out.meta = {**out.meta, "edits": log}
    return out


def scenario_layers(
    scenario: Scenario,
    *,
    layers: LayerSet | str | os.PathLike[str] | None = None,
    roads: str | os.PathLike[str] | None = None,
) -> tuple[LayerSet, list[Problem]]:
    """Return the layers an analysis runs on under ``scenario``, validated, with their warnings.

    The layer set (``layers``, else the scenario's ``layers`` key, else the embedded one) is
    read, its roads replaced (``roads``, else the scenario's ``roads`` key, if any) and
    validated as the user gave it; then the scenario's network edits are applied
    (:func:`apply_edits`) and the edited set validated again. ``geoplan run`` and the single
    analysis commands (``traveltime``, ``catchments``, ``surface``, ``network build``) all
    load their layers through this function, so they answer the same what-if.

    Parameters
    ----------
    scenario
        The scenario (its ``layers``, ``roads`` and ``edits`` keys are used here; its speeds
        apply when the network is built).
    layers
        A layer set or its location (folder, GeoPackage, ``postgresql://`` URL); default: the
        scenario's ``layers`` key, else the embedded Kazakhstan layers. A given
        :class:`~geoplan.layers.LayerSet` is not modified.
    roads
        A roads layer file (GeoPackage with a ``roads`` layer, GeoJSON, ...) replacing the layer
        set's roads; default: the scenario's ``roads`` key, else the layer set's own roads.

    Returns
    -------
    tuple of (LayerSet, list of Problem)
        The edited layers (``meta["edits"]`` lists what was applied) and the validation
        warnings of the edited set (of the set as read when the scenario has no edits).

    Raises
    ------
    LayerReadError
        When the layers or the roads file cannot be read.
    LayerValidationError
        When the layers have errors before any edit (the user's data is wrong).
    ScenarioError
        When an edit cannot be applied (unknown road id, unusable added roads), or the edits
        leave the layers with errors; the message names the first edit (``edits[k]`` and its
        name) after which the layers are no longer valid.

    Examples
    --------
    >>> from geoplan.scenario import load_scenario, scenario_layers
    >>> layers, warnings = scenario_layers(load_scenario("scenarios/center_west.yaml"))  # doctest: +SKIP
    >>> layers.meta["edits"]                                                            # doctest: +SKIP
    ['edits[0]: added 5 road(s) from center_west_roads.geojson: ...']
    """
    if isinstance(layers, LayerSet):
        base = layers
    else:
        base = read_layers(layers if layers is not None else scenario.layers_path())
    roads_file = roads if roads is not None else scenario.roads_path()
    if roads_file is not None:
        base = base.copy()
        base.layers["roads"] = read_layers(roads_file, required=("roads",)).roads
        base.sources["roads"] = str(roads_file)
    # Validate what the user gave before the scenario touches it, then the edited set.
    found = require_valid(base)
    if not scenario.edits:
        return base, found
    edited = apply_edits(base, scenario)
    try:
        return edited, require_valid(edited)
    except LayerValidationError as exc:
        # The layers were valid before the edits: the scenario broke them (say, closed every road).
        raise ScenarioError(f"{scenario.source}: after the scenario's network edits{_breaking_edit(base, scenario)}, "
                            f"{exc.message}",
                            fix="change the edits so that the layers stay valid (`geoplan scenario check "
                                f"{scenario.source}` applies them and reports)") from exc


def _breaking_edit(base: LayerSet, scenario: Scenario) -> str:
    """`` (up to edits[k] (name))``: the first edit after which the layers have errors (failure path only)."""
    for k in range(len(scenario.edits) - 1):
        partial = scenario.model_copy(update={"edits": scenario.edits[: k + 1]})
        if any(p.severity == "error" for p in validate(apply_edits(base, partial))):
            break
    else:
        k = len(scenario.edits) - 1
    name = scenario.edits[k].name
    return f" (up to edits[{k}]" + (f" ({name})" if name else "") + ")"
