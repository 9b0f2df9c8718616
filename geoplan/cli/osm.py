"""``geoplan osm``: turn OpenStreetMap data into a roads layer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer

from geoplan.cli._common import MainRoads, app, plan_single

osm_app = typer.Typer(help="Turn OpenStreetMap data into a roads layer.", no_args_is_help=True)
app.add_typer(osm_app, name="osm")

RoadsOut = Annotated[Path, typer.Option("--to", help="Output roads file: .geojson or .gpkg (layer 'roads').")]
RoadClasses = Annotated[str | None, typer.Option("--road-classes", help="Comma-separated highway classes to keep.")]


def _osm_classes(road_classes: str | None) -> list[str] | None:
    return None if road_classes is None else [c for c in road_classes.split(",") if c.strip()]


@osm_app.command("convert")
def osm_convert(
    file: Annotated[Path, typer.Argument(help="OSM extract: .osm.pbf, .osm, .osm.bz2 or .osm.gz.")],
    to: RoadsOut,
    main_roads: MainRoads = False,
    road_classes: RoadClasses = None,
) -> None:
    """Convert an OSM extract into a roads layer (segments split at junctions)."""
    from geoplan.osm import read_osm, roads_summary, write_roads

    plan = plan_single(to, None, file)
    roads = read_osm(file, road_classes=_osm_classes(road_classes), main_roads=main_roads, progress=True)
    with plan.writing() as staging:
        write_roads(roads, staging.path(to))
    typer.echo(f"wrote {roads_summary(roads)} to {to}")


@osm_app.command("download")
def osm_download(
    to: RoadsOut,
    place: Annotated[str | None, typer.Option("--place", help="Place name known to Nominatim.")] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="Bounding box W,S,E,N in degrees.")] = None,
    main_roads: MainRoads = False,
    road_classes: RoadClasses = None,
    overpass_url: Annotated[str | None, typer.Option("--overpass-url", help="Overpass API base URL.")] = None,
) -> None:
    """Download roads from the Overpass API (through osmnx) into a roads layer."""
    from geoplan.osm import download_osm, roads_summary, write_roads

    box = None
    if bbox is not None:
        parts = bbox.split(",")
        try:
            box = tuple(float(v) for v in parts)
        except ValueError:
            box = ()
        if len(box) != 4:
            raise click.BadParameter("must be four numbers W,S,E,N, e.g. 72.9,50.0,73.2,50.1", param_hint="--bbox")
    roads = download_osm(place=place, bbox=box, road_classes=_osm_classes(road_classes), main_roads=main_roads,
                         overpass_url=overpass_url, progress=True)
    typer.echo(f"wrote {roads_summary(roads)} to {write_roads(roads, to)}")
