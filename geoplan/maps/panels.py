"""The methods and caveats panel of a map: data sources, the cost model, what "schematic" means, licences."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from geoplan._style import OSM_ATTRIBUTION_HTML
from geoplan.maps.assets import LEAFLET_VERSION

if TYPE_CHECKING:
    from geoplan.maps.basemap import MapContext


def _li(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items if i) + "</ul>"


def methods_html(ctx: MapContext, *, schematic: bool, boundaries: bool, settlements: bool, tiles: bool) -> str:
    """Build the methods and caveats panel (HTML; every value from a scenario is escaped).

    Parameters
    ----------
    ctx
        The run the map shows.
    schematic
        The road network is drawn as straight lines between places.
    boundaries, settlements, tiles
        Which of these the map has (their sources and licences are listed).

    Returns
    -------
    str
        HTML for the panel.
    """
    e = html.escape
    speeds = ", ".join(f"{e(str(k))} {v:g}" for k, v in ctx.speeds.items())
    model = [
        "Travel time is the fastest route on the road network: each road's length (the published or "
        "estimated road length, not the drawn line) at the average speed of its class"
        + (f" (km/h: {speeds})" if speeds else "") + ".",
        f"From each town or centre to its nearest road at {ctx.access_kph:g} km/h." if ctx.access_kph else "",
        ("The travel-time surface adds off-road travel at "
         f"{ctx.offroad_kph:g} km/h to the nearest road (friction method, Weiss et al. 2018).")
        if ctx.offroad_kph else "",
        ("Catchment bands: the area from which a growth centre is reached within "
         + ", ".join(f"{int(b)}" for b in ctx.bands) + " minutes.") if ctx.bands else "",
        (f"A monotown within {ctx.agglomeration_minutes:g} minutes of a large enough growth centre is an "
         "agglomeration candidate.") if ctx.agglomeration_minutes else "",
    ]
    caveats = [
        ("<b>Schematic network.</b> Roads are drawn as straight lines between places. Travel times use the "
         "real road lengths, but catchment outlines and the surface follow the straight lines, so their shape "
         "is approximate; read them as an indication, not a boundary.") if schematic else "",
        "Categories are transparent rules applied to the indicators shown in each town's profile; they are "
        "evidence for a decision, not the decision.",
        "Population figures carry their year; census years are 1999, 2009 and 2021.",
        *[e(n) for n in ctx.notes],
    ]
    sources = [
        "Monotowns and growth centres: fact tables compiled from the Bureau of National Statistics of "
        "Kazakhstan and official lists (see the layers' SOURCES.md).",
        "Roads and places partly " + OSM_ATTRIBUTION_HTML + " (ODbL 1.0); GeoNames (CC BY 4.0).",
        ("Boundaries: OCHA / HDX Common Operational Dataset COD-AB Kazakhstan (CC BY-IGO), 2024 districts "
         "redrawn by geokz (A. Rodionov, CC BY 4.0).") if boundaries else
        "No boundaries layer was given, so the country, regions and districts are not drawn.",
        "Settlements: OpenStreetMap place points with a population tag, " + OSM_ATTRIBUTION_HTML + " (ODbL 1.0)."
        if settlements else "",
        "Web map tiles (optional layer, needs the internet): " + OSM_ATTRIBUTION_HTML + "." if tiles else "",
        f"Map software: Leaflet {LEAFLET_VERSION} (BSD-2-Clause), inlined in this file; geoplan.",
    ]
    scen = ""
    if ctx.scenario:
        scen = (f"<h3>Scenario</h3><p><b>{e(ctx.scenario)}</b>"
                + (f" — {e(ctx.description)}" if ctx.description else "")
                + (f"<br>Run on {e(ctx.run_date)}." if ctx.run_date else "") + "</p>")
    return ("<h2>Methods, caveats and sources</h2>" + scen
            + "<h3>How travel time is measured</h3>" + _li(model)
            + "<h3>Caveats</h3>" + _li(caveats)
            + "<h3>Data sources and licences</h3>" + _li(sources))
