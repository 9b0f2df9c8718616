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
RoadClasses = Annotated[str | None, typer.Option(
    "--road-classes", "--classes", help="Comma-separated highway classes to keep.")]


def _osm_classes(road_classes: str | None) -> list[str] | None:
    return None if road_classes is None else [c for c in road_classes.split(",") if c.strip()]


@osm_app.command("convert")
def osm_convert(
    file: Annotated[Path, typer.Argument(help="OSM extract: .osm.pbf, .osm, .osm.bz2 or .osm.gz.")],
    to: RoadsOut,
    main_roads: MainRoads = False,
    road_classes: RoadClasses = None,
    merge: Annotated[bool, typer.Option(
        "--merge/--no-merge", help="Join road pieces through nodes of degree 2 into single features.")] = False,
) -> None:
    """Convert an OSM extract into a roads layer (segments split at junctions)."""
    from geoplan.osm import read_osm, roads_summary, write_roads

    plan = plan_single(to, None, file)  # the embedded layers are protected too
    roads = read_osm(file, road_classes=_osm_classes(road_classes), main_roads=main_roads, merge=merge,
                     progress=True)
    with plan.writing() as staging:
        write_roads(roads, staging.path(to))
    typer.echo(f"wrote {roads_summary(roads)} to {to}")


@osm_app.command("download")
def osm_download(
    to: RoadsOut,
    region: Annotated[str | None, typer.Option(
        "--region", help="Geofabrik region (id, name or ISO code, e.g. kazakhstan): its .osm.pbf extract.",
        show_default=False)] = None,
    url: Annotated[str | None, typer.Option("--url", help="URL of any .osm.pbf extract.", show_default=False)] = None,
    place: Annotated[str | None, typer.Option("--place", help="Place name known to Nominatim (Overpass).")] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="Bounding box W,S,E,N in degrees (Overpass).")] = None,
    main_roads: MainRoads = False,
    road_classes: Annotated[str | None, typer.Option(
        "--classes", "--road-classes", help="Comma-separated highway classes to keep [default with --region/--url: "
        "motorway to tertiary with their links; with --place/--bbox: all road classes].", show_default=False)] = None,
    merge: Annotated[bool, typer.Option(
        "--merge/--no-merge", help="Join road pieces through nodes of degree 2 (--region/--url).")] = True,
    cache: Annotated[Path | None, typer.Option(
        "--cache", help="Download cache folder [default: ~/.cache/geoplan/osm].", show_default=False)] = None,
    index_url: Annotated[str | None, typer.Option(
        "--index-url", help="Geofabrik index URL (for --region) [default: download.geofabrik.de].",
        show_default=False)] = None,
    overpass_url: Annotated[str | None, typer.Option("--overpass-url", help="Overpass API base URL.")] = None,
) -> None:
    """Download the roads of a region: a Geofabrik extract (--region, --url) or from Overpass (--place, --bbox).

    An extract is downloaded resumably into the cache, checked against its published MD5,
    and streamed through the PBF reader; then the roads layer is written.
    """
    from geoplan.osm import roads_summary, write_roads

    sources = [o for o, v in (("--region", region), ("--url", url), ("--place", place), ("--bbox", bbox)) if v]
    if len(sources) != 1:
        raise click.UsageError("give exactly one of --region, --url, --place or --bbox"
                               + (f" (got {', '.join(sources)})" if sources else ""))
    if region is not None or url is not None:
        from geoplan.osm.geofabrik import GEOFABRIK_INDEX_URL, download_roads
        from geoplan.osm.roads import DOWNLOAD_ROAD_CLASSES, MAIN_ROAD_CLASSES

        classes = _osm_classes(road_classes) or list(MAIN_ROAD_CLASSES if main_roads else DOWNLOAD_ROAD_CLASSES)
        if main_roads and road_classes is not None:
            raise click.UsageError("pass either --main-roads or --classes, not both")
        plan = plan_single(to, None)
        roads = download_roads(region=region, url=url, road_classes=classes, merge=merge, cache_dir=cache,
                               index_url=index_url or GEOFABRIK_INDEX_URL, progress=True)
        with plan.writing() as staging:
            write_roads(roads, staging.path(to))
        typer.echo(f"wrote {roads_summary(roads)} to {to}")
        return
    from geoplan.osm import download_osm

    box: tuple[float, float, float, float] | None = None
    if bbox is not None:
        parts = bbox.split(",")
        try:
            numbers = [float(v) for v in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4:
            raise click.BadParameter("must be four numbers W,S,E,N, e.g. 72.9,50.0,73.2,50.1", param_hint="--bbox")
        box = (numbers[0], numbers[1], numbers[2], numbers[3])
    roads = download_osm(place=place, bbox=box, road_classes=_osm_classes(road_classes), main_roads=main_roads,
                         overpass_url=overpass_url, progress=True)
    typer.echo(f"wrote {roads_summary(roads)} to {write_roads(roads, to)}")
