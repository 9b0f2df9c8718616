"""One definition of the colours and labels every output uses: web maps, PNG and QGIS styles.

Categories use the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies and in greyscale by lightness); sequential data (catchment bands, travel-time
surface, capacity used) use perceptually uniform single-hue or multi-hue matplotlib ramps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex, to_rgba

from geoplan.settings import CATEGORIES

__all__ = [
    "BAND_CMAP",
    "CAPACITY_CMAP",
    "CATEGORIES",
    "CATEGORY_COLOURS",
    "CATEGORY_LABELS",
    "CENTRE_COLOUR",
    "FLOW_COLOUR",
    "OSM_ATTRIBUTION_HTML",
    "OUTLINE_COLOUR",
    "OSM_ATTRIBUTION_TEXT",
    "ROAD_COLOUR",
    "SURFACE_CMAP",
    "band_colours",
    "surface_breaks",
    "surface_colours",
    "qgis_rgba",
    "ramp_hex",
]

# CATEGORIES (re-exported) is defined once, in geoplan.settings; legends and styles list it in order.
CATEGORY_LABELS: dict[str, str] = {
    "agglomeration": "Agglomeration candidate",
    "diversification": "Diversification",
    "relocation": "Relocation",
    "monitor": "Monitor",
    "not_assessed": "Not assessed (left the list)",
}

#: Okabe–Ito blue, bluish green, vermillion and a neutral grey.
CATEGORY_COLOURS: dict[str, str] = {
    "agglomeration": "#0072B2",
    "diversification": "#009E73",
    "relocation": "#D55E00",
    "monitor": "#999999",
    "not_assessed": "#DDDDDD",
}

CENTRE_COLOUR = "#333333"
#: Outline of the town symbols (and of their fragile rings) on every map and figure.
OUTLINE_COLOUR = "#1A1A1A"
FLOW_COLOUR = CATEGORY_COLOURS["relocation"]
ROAD_COLOUR = "#8C8C8C"

#: Catchment bands: darker = closer to the centre. Purples stays clear of the category hues.
BAND_CMAP = "Purples"
#: Travel-time surface: light = near, dark = far; yellow-brown, clear of the category hues and
#: of the catchments' purples.
SURFACE_CMAP = "YlOrBr"
#: Share of a destination's capacity that is used.
CAPACITY_CMAP = "Blues"

OSM_ATTRIBUTION_HTML = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
OSM_ATTRIBUTION_TEXT = "© OpenStreetMap contributors"


def ramp_hex(cmap: str, values: Sequence[float] | np.ndarray, *, vmin: float = 0.0, vmax: float = 1.0) -> list[str]:
    """Hex colours of ``values`` on the matplotlib colormap ``cmap`` scaled to ``[vmin, vmax]``."""
    v = np.asarray(values, dtype=float)
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((v - vmin) / span, 0.0, 1.0)
    t = np.where(np.isfinite(t), t, 0.0)
    cm = colormaps[cmap]
    return [to_hex(cm(float(x))).upper() for x in t]


def band_colours(bands: Sequence[int] | np.ndarray) -> dict[int, str]:
    """Colour of each catchment band (minutes): the shortest band darkest, the longest lightest.

    The colours depend only on the rank of a band among ``bands``, so a map and a QGIS style
    made from the same catchments agree.
    """
    unique = sorted({int(b) for b in bands})
    if not unique:
        return {}
    # Keep away from the colormap's white end so the widest band still shows on a light basemap.
    positions = np.linspace(0.85, 0.4, len(unique)) if len(unique) > 1 else np.array([0.7])
    cm = colormaps[BAND_CMAP]
    return {b: to_hex(cm(float(p))).upper() for b, p in zip(unique, positions, strict=True)}


def qgis_rgba(colour: str, *, alpha: float = 1.0) -> str:
    """Format a colour as QGIS writes it in QML: ``"r,g,b,a"`` with 0-255 components.

    Parameters
    ----------
    colour
        Any matplotlib colour (``"#0072B2"``, ``"white"``); its own alpha is ignored.
    alpha
        Opacity, 0 to 1.

    Returns
    -------
    str
        E.g. ``"0,114,178,255"``.

    Examples
    --------
    >>> qgis_rgba("#0072B2"), qgis_rgba("white", alpha=0.5)
    ('0,114,178,255', '255,255,255,128')
    """
    r, g, b, _ = to_rgba(colour)
    return f"{round(r * 255)},{round(g * 255)},{round(b * 255)},{round(alpha * 255)}"


#: Class breaks of the surface beyond the catchment bands, minutes.
_LONG_BREAKS = (180, 240, 360, 480, 720, 1080, 1440, 2160, 2880)


def surface_breaks(bands: list[int] | tuple[int, ...], vmax: float) -> list[float]:
    """Class breaks of the surface colours: the catchment bands, then longer steps up to ``vmax``.

    Parameters
    ----------
    bands
        Catchment bands, minutes (each one is a break, so the colours change where the
        catchment outlines lie).
    vmax
        Longest time to distinguish; times beyond the last break share the last colour.

    Returns
    -------
    list of float
        Increasing breaks.

    Examples
    --------
    >>> surface_breaks([30, 60, 90, 120], 400)
    [30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 360.0, 480.0]
    """
    out = sorted({float(b) for b in bands if b > 0})
    for b in _LONG_BREAKS:
        if not out or b > out[-1]:
            out.append(float(b))
            if b >= vmax:
                break
    return out


def surface_colours(n: int, cmap: str) -> list[str]:
    """Colours of ``n`` surface classes, near (light) to far (dark).

    Parameters
    ----------
    n
        Number of classes.
    cmap
        Matplotlib colormap name.

    Returns
    -------
    list of str
        Hex colours.
    """
    return [to_hex(colormaps[cmap](float(x))).upper() for x in np.linspace(0.02, 0.92, n)]
