"""The speed model: average speed per road class, lanes and surface."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from geoplan._errors import NetworkError
from geoplan.layers import ROAD_CLASSES
from geoplan.settings import (
    DEFAULT_SPEEDS_KPH,
    FOUR_LANE_BONUS_KPH,
    UNPAVED_CAP_KPH,
    UNPAVED_OSM_SURFACES,
    UNPAVED_SURFACES,
)


def _speeds(roads: gpd.GeoDataFrame, speeds: Mapping[str, float] | None) -> np.ndarray:
    table = dict(DEFAULT_SPEEDS_KPH)
    for cls_name, value in (speeds or {}).items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
            raise NetworkError(f"speed for road class '{cls_name}' is {value!r}", fix="give a positive number of km/h")
        table[str(cls_name)] = float(value)
    ids = roads["id"].astype(str).to_numpy(dtype=object) if "id" in roads.columns else np.arange(len(roads)).astype(str)
    classes = roads["road_class"].astype(object).to_numpy()
    classes = np.array([c.strip() if isinstance(c, str) else c for c in classes], dtype=object)
    if "speed_kph" in roads.columns:
        raw = roads["speed_kph"]
        override = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        given = raw.notna().to_numpy() & ~(raw.astype(str).str.strip() == "").to_numpy()
        wrong = given & ~(np.isfinite(override) & (override > 0))
        if wrong.any():
            listed = ", ".join(f"{i} ({v!r})" for i, v in zip(ids[wrong][:10], raw[wrong].head(10), strict=False))
            raise NetworkError(f"roads whose speed_kph is not a positive number: {listed}",
                               fix="type a plain number of km/h in speed_kph, or leave it empty for the class default")
        has_override = given
    else:
        override = np.full(len(roads), np.nan)
        has_override = np.zeros(len(roads), bool)
    known = np.isin(classes, list(table))
    if not (known | has_override).all():
        bad = ~(known | has_override)
        listed = ", ".join(f"{i} ({c!r})" for i, c in zip(ids[bad][:10], classes[bad][:10], strict=True))
        more = f" and {int(bad.sum()) - 10} more" if bad.sum() > 10 else ""
        raise NetworkError(
            f"roads with a class that has no speed: {listed}{more}",
            fix=f"set road_class to one of {', '.join(ROAD_CLASSES)}, or give speed_kph on the road or a speed "
                "for the class",
        )
    kph = np.array([table.get(c, np.nan) if isinstance(c, str) else np.nan for c in classes], dtype=float)
    if "lanes" in roads.columns:
        lanes = pd.to_numeric(roads["lanes"], errors="coerce").to_numpy(dtype=float)
        four = (lanes >= 4) & np.isin(classes, ("trunk", "primary"))
        kph = np.where(four, kph + FOUR_LANE_BONUS_KPH, kph)
    if "surface" in roads.columns:
        surface = roads["surface"].astype(object).map(lambda v: v.strip().lower() if isinstance(v, str) else v)
        unpaved = surface.isin(UNPAVED_SURFACES + UNPAVED_OSM_SURFACES).to_numpy()
        kph = np.where(unpaved, np.minimum(kph, UNPAVED_CAP_KPH), kph)
    return np.where(has_override, override, kph)


def road_speeds(roads: gpd.GeoDataFrame, *, speeds: Mapping[str, float] | None = None) -> np.ndarray:
    """Travel speed of each road in km/h, with the same rules as :func:`build_network`.

    Class default (:data:`DEFAULT_SPEEDS_KPH`, overridden per class by ``speeds``), plus
    :data:`FOUR_LANE_BONUS_KPH` on four-lane trunk and primary roads, capped at
    :data:`UNPAVED_CAP_KPH` on unpaved surfaces; a road's own ``speed_kph`` wins. Used by
    :mod:`geoplan.surface` so the raster and the network share one speed model.

    Raises
    ------
    NetworkError
        Naming the roads whose class has no speed, or a class given a non-positive speed.
    """
    if "road_class" not in roads.columns:
        raise NetworkError("the roads layer has no 'road_class' column",
                           fix="add 'road_class' (see `geoplan layers check`)")
    return _speeds(roads.reset_index(drop=True), speeds)
