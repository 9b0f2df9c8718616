"""The whole analysis, stage by stage: :func:`run` and :func:`compare`.

Stages follow the data flow: validate the layers (errors stop the run before any analysis),
apply the scenario's network edits, build the network and attach towns and centres, compute
travel times, catchments and the raster surface, classify the towns, allocate relocation
flows, and write exports and maps. Each stage is logged (logger ``geoplan``, INFO).

Every output is planned before anything is computed (:func:`plan_run_outputs`: no folder,
locked file or input where an output goes, no output folder inside the layers), then written
into a hidden staging folder unique to the run, under a per-folder lock, read back, and moved
into place only when every file is complete; if a rename fails, the files already replaced are
restored (:class:`geoplan._outputs.OutputSet`). So a failed or interrupted run leaves the previous
outputs as they were (a kill during the final renames, which take microseconds, can leave some
files previous and some new, each of them complete), and identical inputs give byte-identical
files. A staging folder left by a killed run is removed by the next run. A run that fails
removes its staging folder and any output folder it created.

Examples
--------
>>> import geoplan
>>> result = geoplan.run()                              # baseline on the embedded layers
>>> sorted(result.towns["category"].unique())           # doctest: +SKIP
['agglomeration', 'diversification', 'monitor', 'relocation']
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from geoplan._errors import AnalysisError, OutputError
from geoplan._io import write_csv, write_geojson, write_text_atomic
from geoplan._outputs import OutputSet, plan_outputs
from geoplan._progress import logger, progress_enabled
from geoplan.agglomeration import COMPARISON_COLUMNS, Agglomerations, layer_decree
from geoplan.agglomeration import agglomerations as _agglomerations
from geoplan.catchments import catchment_bands
from geoplan.charts import ranking_png
from geoplan.classify import classify_towns, compare_results, indicators
from geoplan.distributed import check_scheduler
from geoplan.distributed import od_matrix as distributed_od_matrix
from geoplan.export import export_results, surface_qml
from geoplan.geography import with_districts
from geoplan.indicators import Catalogue, layer_folder, load_inputs
from geoplan.layers import LayerSet, Problem
from geoplan.maps import MapContext, write_maps
from geoplan.network import RoadNetwork, attach_places, build_network
from geoplan.profiles import write_profiles
from geoplan.relocation import (
    PolicyResult,
    RelocationResult,
    compare_modes,
    policy_as_result,
    quota_table_path,
    read_quotas,
    relocate,
    relocate_policy,
)
from geoplan.scenario import Scenario, load_scenario, scenario_layers
from geoplan.sensitivity import SensitivityResult, mark_robustness, prepare, run_sensitivity, sensitivity_table
from geoplan.store import check_results_target, is_postgres_url, parse_url, redact_url, write_results
from geoplan.surface import SurfaceResult, country_area, nearest_centre_surface, write_surface
from geoplan.traveltime import ODMatrix, od_matrix

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["RunResult", "run", "compare", "summary_table"]


@dataclass
class RunResult:
    """Everything a run produced.

    Attributes
    ----------
    scenario
        The scenario the run used.
    layers
        The layer set after the scenario's edits.
    warnings
        Validation warnings (errors stop the run).
    network
        The road network with towns and centres attached.
    snaps
        How each town and centre was attached (``id``, ``road``, ``snap_km``, ``snapped``).
    od
        Travel times from every town to every centre.
    towns, centres, catchments, flows
        The result layers (see the results schema in the docs).
    agglomerations
        The composition of each centre's agglomeration band (``agglomeration.max_minutes``):
        places, districts with their share of people inside (:mod:`geoplan.agglomeration`).
    surface
        The raster travel-time surface, or ``None`` when skipped.
    relocation
        The allocation behind ``flows``: ranked candidates and total person-minutes.
    policy
        The phased plan of the ``policy`` relocation mode (receiving regions within yearly quotas;
        ``None`` without a quota table).
    relocation_modes
        Both relocation modes side by side (``relocation_comparison.csv``).
    sensitivity
        The Monte Carlo runs behind the towns' ``stability`` and ``fragile`` marks (``None``
        when ``sensitivity.in_run`` is off).
    outputs
        Written files by name.
    timings
        Seconds per stage.
    database
        Where the results went when ``out_dir`` was a ``postgresql://`` URL: the URL (password
        masked) with ``?schema=`` naming the results schema.
    """

    scenario: Scenario
    layers: LayerSet
    warnings: list[Problem]
    network: RoadNetwork
    snaps: pd.DataFrame
    od: ODMatrix
    towns: gpd.GeoDataFrame
    centres: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    flows: gpd.GeoDataFrame
    surface: SurfaceResult | None = None
    relocation: RelocationResult | None = None
    agglomerations: Agglomerations | None = None
    sensitivity: SensitivityResult | None = None
    policy: PolicyResult | None = None
    relocation_modes: pd.DataFrame | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    database: str | None = None


class _Stages:
    """Logs '[k/n] stage ... done (s)' (INFO) and records timings.

    An :class:`AnalysisError` (say, an infeasible allocation) is re-raised naming ``source``, the
    scenario file whose parameters led to it, so that ``compare`` tells which of two failed.
    """

    def __init__(self, n: int, enabled: bool, source: str | None = None) -> None:
        self.n, self.k, self.enabled, self.source = n, 0, enabled, source
        self.timings: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        self.k += 1
        if self.enabled:
            logger.info("[%d/%d] %s ...", self.k, self.n, name)
        t0 = time.perf_counter()
        try:
            value = fn()
        except AnalysisError as exc:
            if self.source is None or exc.message.startswith(self.source):
                raise
            raise AnalysisError(f"{self.source}: {exc.message}", fix=exc.fix) from exc
        self.timings[name] = time.perf_counter() - t0
        if self.enabled:
            logger.info("[%d/%d] %s: done in %.1f s", self.k, self.n, name, self.timings[name])
        return value


def _scenario(scenario: Scenario | str | os.PathLike[str] | None) -> Scenario:
    if scenario is None:
        return Scenario.baseline()
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario(scenario)


def run(
    *,
    scenario: Scenario | str | os.PathLike[str] | None = None,
    layers: LayerSet | str | os.PathLike[str] | None = None,
    roads: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    maps_dir: str | os.PathLike[str] | None = None,
    with_surface: bool = True,
    with_maps: bool = True,
    progress: bool | None = None,
    scheduler: str | Client | None = None,
    export_formats: Sequence[str] = ("geojson",),
    excel: bool = False,
) -> RunResult:
    """Run the whole analysis and (optionally) write its outputs.

    Parameters
    ----------
    scenario
        A :class:`~geoplan.scenario.Scenario`, a path to a scenario YAML file, or ``None`` for
        the baseline.
    layers
        A layer set or its path; default: the scenario's ``layers`` key, else the embedded
        Kazakhstan layers.
    roads
        A roads layer file (GeoPackage with a ``roads`` layer, GeoJSON, ...; e.g. the real
        OpenStreetMap network from ``geoplan osm download``) that replaces the layer set's
        roads; default: the scenario's ``roads`` key, else the layer set's own roads. Towns,
        centres, settlements and boundaries still come from the layer set.
    out_dir
        Folder for the data outputs (``towns.geojson``, ``catchments.geojson``,
        ``flows.geojson``, ``centres.geojson``, ``results.gpkg``, ``towns.csv``,
        ``surface.tif``). Nothing is written when ``None``. A ``postgresql://`` URL writes the
        result layers (towns, centres, catchments, flows) to the schema ``<scenario>_results``
        of that database instead (or the URL's ``?schema=``), replacing the previous run's
        tables in one transaction (see :func:`geoplan.store.write_results`); maps then need
        ``maps_dir``.
    maps_dir
        Folder for ``agglomeration.html``, ``relocation.html`` and ``categories.png``;
        default ``out_dir``.
    with_surface
        Compute the raster travel-time surface (and its map overlay). Without it, a
        ``surface.tif`` left in ``out_dir`` by an earlier run is removed, so the folder never
        mixes the outputs of two runs.
    with_maps
        Write the maps (needs ``out_dir`` or ``maps_dir``).
    progress
        Log each stage (INFO, logger ``geoplan``; the ``geoplan`` command shows it on stderr)
        and show progress bars of the slow steps; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call).
    scheduler
        Run the travel-time searches on Dask workers: ``"processes"``, ``"tcp://HOST:PORT"`` or
        a ``dask.distributed.Client`` (see :mod:`geoplan.distributed`); default: in this process.
    export_formats
        Per-layer files besides ``results.gpkg``: any of ``geojson``, ``fgb`` (FlatGeobuf) and
        ``parquet`` (GeoParquet); see :func:`geoplan.export.export_results`.
    excel
        Write ``towns.csv`` with a UTF-8 byte-order mark for Excel.

    Returns
    -------
    RunResult

    Raises
    ------
    LayerValidationError
        When the layers have errors (nothing is computed or written).
    ScenarioError
        For a bad scenario, including network edits that leave the layers with errors.
    GeoplanError
        For an unusable output folder (checked before any computing), a network that cannot be
        built, or an infeasible allocation; nothing is written.
    """
    check_scheduler(scheduler)
    sc = _scenario(scenario)
    db_out: str | None = None
    if is_postgres_url(out_dir):
        # Results to PostGIS: reachable and writable before any computing (fails fast).
        db_out, out_dir = str(out_dir), None
        check_results_target(db_out, scenario=sc.name)
    writes = out_dir is not None or (with_maps and maps_dir is not None)
    plan = None
    if writes:
        # Before any computing: the outputs must be writable and must not touch the inputs.
        source = None if isinstance(layers, LayerSet) else (layers if layers is not None else sc.layers_path())
        scenario_file = Path(sc.source) if sc.source != Scenario.baseline().source else None
        plan = plan_run_outputs(out_dir, maps_dir, with_surface=with_surface, with_maps=with_maps,
                                inputs=[source, scenario_file], formats=export_formats,
                                with_sensitivity=sc.sensitivity.in_run)
    n = 7 + int(with_surface) + int(writes) + int(db_out is not None) + int(sc.sensitivity.in_run)
    progress = progress_enabled(progress)
    stage = _Stages(n, progress, source=None if sc.source == Scenario.baseline().source else sc.source)

    lset, warnings = stage("read and validate layers", lambda: scenario_layers(sc, layers=layers, roads=roads))
    result = _analyse(sc, lset, warnings, stage, with_surface=with_surface, scheduler=scheduler, progress=progress)
    if plan is not None:
        result.outputs = stage("write outputs", lambda: _write(result, plan, out_dir, maps_dir, with_maps,
                                                               formats=export_formats, excel=excel))
    if db_out is not None:
        layer_source = "layer set object" if isinstance(layers, LayerSet) else str(
            layers if layers is not None else sc.layers_path())
        schema = stage("write results to PostGIS", lambda: _write_database(result, db_out, layer_source))
        result.database = parse_url(db_out).with_schema(schema).display
    return result


def _analyse(sc: Scenario, lset: LayerSet, warnings: list[Problem], stage: _Stages, *, with_surface: bool,
             scheduler: str | Client | None, progress: bool) -> RunResult:
    """Run the computing stages of :func:`run`, from the network to the relocation flows."""
    towns, centres = lset.towns, lset.centres
    net, snaps = stage("build network and attach places", lambda: _network(sc, lset, progress=progress))
    od = stage("travel times towns x centres",
               lambda: _travel_times(net, towns, centres, scheduler=scheduler, progress=progress))
    catch = stage("catchments", lambda: catchment_bands(
        net, centres, bands=sc.catchments.bands, towns=towns, settlements=lset.layers.get("settlements"),
        offroad_kph=sc.surface.offroad_kph, area=country_area(lset), progress=progress))
    agg = stage("agglomerations", lambda: _agglomerate(sc, lset, net, catch, progress=progress))
    surf = None
    if with_surface:
        surf = stage("travel-time surface", lambda: nearest_centre_surface(
            lset, centres=centres, resolution_m=sc.surface.resolution_m, offroad_kph=sc.surface.offroad_kph,
            speeds=sc.speeds, progress=progress))
    s_od_holder: list[Any] = []
    classified, ind, catalogue = stage("classify towns",
                                       lambda: _towns_assessed(sc, lset, net, od, snaps, s_od_holder))
    sens = None
    if sc.sensitivity.in_run:
        def _sensitivity() -> SensitivityResult:
            model = prepare(towns, centres, od, ind, config=sc, catalogue=catalogue)
            return run_sensitivity(model, config=sc, progress=progress)

        sens = stage(f"sensitivity ({sc.sensitivity.runs:,} runs)", _sensitivity)
        classified = mark_robustness(classified, sens)
    rel, policy, modes = stage("relocation allocation",
                               lambda: _relocation(sc, lset, classified, centres, od, net, s_od_holder))
    bounds = lset.layers.get("boundaries")
    return RunResult(sc, lset, warnings, net, snaps, od, agg.mark_towns(with_districts(rel.towns, bounds),
                                                                        boundaries=bounds),
                     with_districts(rel.centres, bounds), catch, rel.flows, surf, relocation=rel,
                     agglomerations=agg, sensitivity=sens, policy=policy, relocation_modes=modes,
                     timings=stage.timings)


def _network(sc: Scenario, lset: LayerSet, *, progress: bool) -> tuple[RoadNetwork, pd.DataFrame]:
    """Build the scenario's road network and attach the towns and centres to it."""
    towns, centres = lset.towns, lset.centres
    net = build_network(lset.roads, speeds=sc.speeds, snap_tolerance_m=sc.network.snap_tolerance_m,
                        progress=progress)
    places = gpd.GeoDataFrame(pd.concat([towns[["id", "geometry"]], centres[["id", "geometry"]]],
                                        ignore_index=True), crs=towns.crs)
    return attach_places(net, places, access_kph=sc.network.access_kph, max_snap_km=sc.network.max_snap_km)


def _travel_times(net: RoadNetwork, towns: gpd.GeoDataFrame, centres: gpd.GeoDataFrame, *,
                  scheduler: str | Client | None, progress: bool) -> ODMatrix:
    """Travel times from every town to every centre, here or on Dask workers."""
    o_ids, d_ids = list(towns["id"].astype(str)), list(centres["id"].astype(str))
    if scheduler is None:
        return od_matrix(net, o_ids, d_ids, progress=progress)
    return distributed_od_matrix(net, o_ids, d_ids, scheduler=scheduler)


def _agglomerate(sc: Scenario, lset: LayerSet, net: RoadNetwork, catch: gpd.GeoDataFrame, *,
                 progress: bool) -> Agglomerations:
    """Compose each centre's agglomeration, reusing its catchment band when the band is one of them."""
    # The agglomeration band is one of the catchment bands unless the scenario sets it apart.
    ready = catch[catch["band"].astype(float) == float(sc.agglomeration.max_minutes)]
    agg = _agglomerations(lset, net=net, max_minutes=sc.agglomeration.max_minutes,
                          offroad_kph=sc.surface.offroad_kph,
                          bands=ready if set(ready["centre"]) == set(lset.centres["id"].astype(str)) else None,
                          progress=progress)
    return agg.with_decree(layer_decree(lset), centres=lset.centres, boundaries=lset.layers.get("boundaries"))


def _towns_assessed(sc: Scenario, lset: LayerSet, net: RoadNetwork, od: ODMatrix, snaps: pd.DataFrame,
                    s_od_holder: list[Any]) -> tuple[gpd.GeoDataFrame, pd.DataFrame, Catalogue]:
    """Compute the towns' indicators and categories; the settlements' travel times go to ``s_od_holder``."""
    towns, centres = lset.towns, lset.centres
    catalogue, table = load_inputs(list(towns["id"].astype(str)), config=sc, folder=layer_folder(lset.sources))
    settlements = lset.layers.get("settlements")
    s_od = None
    if settlements is not None and len(settlements):
        # People within reach count the settlements, routed on the same roads.
        s_net, _ = attach_places(net, settlements[["id", "geometry"]], access_kph=sc.network.access_kph,
                                 max_snap_km=sc.network.max_snap_km)
        s_od = od_matrix(s_net, list(towns["id"].astype(str)), list(settlements["id"].astype(str)))
    ind = indicators(towns, centres, od, config=sc, snaps=snaps, table=table, settlements=settlements,
                     settlements_od=s_od)
    s_od_holder.append(s_od)
    return classify_towns(towns, ind, config=sc, catalogue=catalogue), ind, catalogue


def _write_database(result: RunResult, db_out: str, layer_source: str) -> str:
    """Write the result layers to PostGIS; return the schema written."""
    tables = {"towns": result.towns, "centres": result.centres, "catchments": result.catchments,
              "flows": result.flows}
    if result.agglomerations is not None:
        tables["agglomerations"] = result.agglomerations.centres
    return write_results(db_out, tables, scenario=result.scenario.name,
                         info={"layers": redact_url(layer_source), "scenario_file": result.scenario.source})


#: Data outputs of a run with the default format (GeoJSON), in the order they are committed.
DATA_OUTPUTS = ("towns.geojson", "centres.geojson", "catchments.geojson", "flows.geojson", "results.gpkg",
                "towns.csv", "agglomerations.geojson", "agglomerations.csv", "decree_comparison.csv",
                "relocation_comparison.csv", "relocation_years.csv")
_FORMAT_SUFFIX = {"geojson": ".geojson", "fgb": ".fgb", "parquet": ".parquet"}


def _data_outputs(formats: Sequence[str]) -> list[str]:
    """File names of the data outputs for the export formats."""
    unknown = [f for f in formats if f not in _FORMAT_SUFFIX]
    if unknown:
        raise ValueError(f"Invalid value: unknown export format(s) {', '.join(map(str, unknown))}, "
                         f"needs to be among {', '.join(_FORMAT_SUFFIX)}")
    return [f"{kind}{_FORMAT_SUFFIX[f]}" for kind in ("towns", "centres", "catchments", "flows") for f in formats
            ] + ["results.gpkg", "towns.csv", "agglomerations.geojson", "agglomerations.csv",
                 "decree_comparison.csv", "relocation_comparison.csv", "relocation_years.csv"]


def _relocation(sc: Scenario, lset: LayerSet, classified: gpd.GeoDataFrame, centres: gpd.GeoDataFrame, od: ODMatrix,
                net: RoadNetwork, s_od: list[Any]) -> tuple[RelocationResult, PolicyResult | None, pd.DataFrame]:
    """Both relocation modes; the scenario's ``relocation.mode`` gives the flows, both are compared."""
    cities: RelocationResult | AnalysisError
    try:
        cities = relocate(classified, centres, od, config=sc, route=net)
    except AnalysisError as exc:
        cities = exc
    policy = None
    qpath = quota_table_path(layer_folder(lset.sources), config=sc)
    settlements = lset.layers.get("settlements")
    monotowns = set(classified["id"].astype(str))
    if qpath is not None:
        regions = {str(r) for frame in (lset.towns, centres, settlements) if frame is not None
                   and "region" in frame.columns for r in frame["region"].dropna()}
        quotas = read_quotas(qpath, regions=sorted(regions))
        origins = classified[(classified["category"] == "relocation")]
        if settlements is not None and len(settlements) and s_od and s_od[0] is not None:
            link = settlements["town_id"].astype(object) if "town_id" in settlements.columns else None
            dest = settlements[link.isna().to_numpy()] if link is not None else settlements
            dest_od: Any = s_od[0]
        else:
            dest, dest_od = centres[~centres["id"].astype(str).isin(monotowns)], od
        policy = relocate_policy(origins, dest, dest_od, quotas, config=sc)
    modes = compare_modes(cities, policy)
    if sc.relocation.mode == "policy":
        if policy is None:
            raise AnalysisError("relocation.mode is policy but there is no quota table",
                                fix="set relocation.policy.quota_table, or put resettlement_quotas.csv beside "
                                    "the layers")
        dest_geo = (settlements if settlements is not None and s_od and s_od[0] is not None else centres)
        return policy_as_result(policy, classified, centres, dest_geo), policy, modes
    if isinstance(cities, AnalysisError):
        raise cities
    return cities, policy, modes


#: Outputs of the sensitivity runs (written when ``sensitivity.in_run`` is on, else removed).
SENSITIVITY_OUTPUTS = ("sensitivity.csv", "ranking.png")
#: Map outputs of a run and their names in :attr:`RunResult.outputs`.
MAP_OUTPUTS = {"agglomeration.html": "agglomeration_map", "relocation.html": "relocation_map",
               "categories.png": "categories_png"}


def plan_run_outputs(
    out_dir: str | os.PathLike[str] | None,
    maps_dir: str | os.PathLike[str] | None,
    *,
    with_surface: bool,
    with_maps: bool,
    inputs: list[str | os.PathLike[str] | None] | tuple[str | os.PathLike[str] | None, ...] = (),
    formats: Sequence[str] = ("geojson",),
    with_sensitivity: bool = True,
) -> OutputSet:
    """Every file a run writes (and the stale ``surface.tif`` it removes), checked before any computing.

    Raises
    ------
    OutputError
        For an output folder that is a file, inside the input layers, not writable, or holding a
        folder or locked file where an output goes (see :func:`geoplan._outputs.plan_outputs`).
    """
    targets: list[Path] = []
    remove: list[Path] = []
    if out_dir is not None:
        out = Path(out_dir)
        _check_folder(out)
        targets += [out / n for n in _data_outputs(formats)]
        (targets if with_sensitivity else remove).extend(out / n for n in SENSITIVITY_OUTPUTS)
        (targets if with_surface else remove).extend([out / "surface.tif", out / "surface.qml"])
    mdir = Path(maps_dir) if maps_dir is not None else (Path(out_dir) if out_dir is not None else None)
    folders: list[Path] = []
    if with_maps and mdir is not None:
        _check_folder(mdir)
        targets += [mdir / n for n in MAP_OUTPUTS]
        folders.append(mdir / "profiles")  # one page per town: replaced as a whole
    return plan_outputs(targets, inputs=inputs, remove=remove, folders=folders)


def _check_folder(folder: Path) -> None:
    """Check that an output folder is a folder (or does not exist yet)."""
    try:
        try:
            os.lstat(folder)  # unlike os.path.exists, this tells "no such folder" from "unusable name"
            is_file = not folder.is_dir()
        except FileNotFoundError:
            is_file = False
    except OSError as exc:  # e.g. a name too long for the file system
        raise OutputError(f"{folder}: not a usable output folder ({exc.strerror or exc})",
                          fix="pass a folder you can write to (it is created if missing)", path=folder) from None
    if is_file:
        raise OutputError(f"{folder}: is a file, not a folder; outputs cannot be written there",
                          fix="pass a folder you can write to (it is created if missing)", path=folder)


def _optional_layer(layers: LayerSet, name: str) -> gpd.GeoDataFrame | None:
    """Return an optional layer for the maps: from the layer set, else a ``<name>.geojson`` beside its towns."""
    if name in layers.layers:
        return layers.layers[name]
    towns_src = str(layers.sources.get("towns", "")).split(":")[0]
    candidate = Path(towns_src).with_name(f"{name}.geojson") if towns_src else None
    if candidate is not None and candidate.is_file():
        return gpd.read_file(candidate)
    return None


def _version() -> str:
    from geoplan import __version__

    return str(__version__)


def _map_context(result: RunResult, *, profiles: bool = False) -> MapContext:
    """Describe the run for the maps: scenario, date, model facts, planned roads."""
    sc = result.scenario
    planned: set[str] = set()
    for edit in sc.edits:
        if edit.add_roads:
            with contextlib.suppress(OSError, KeyError, ValueError, RuntimeError):  # validated when applied
                planned |= set(gpd.read_file(sc.resolve(edit.add_roads))["id"].astype(str))
    return MapContext(
        scenario=sc.name, description=sc.description, run_date=MapContext.today(),
        speeds=dict(sc.speeds), access_kph=sc.network.access_kph, offroad_kph=sc.surface.offroad_kph,
        bands=list(sc.catchments.bands), agglomeration_minutes=sc.agglomeration.max_minutes,
        planned_roads=frozenset(planned), profiles_url="profiles/" if profiles else None,
    )


def _write(result: RunResult, plan: OutputSet, out_dir: str | os.PathLike[str] | None,
           maps_dir: str | os.PathLike[str] | None, with_maps: bool, *, formats: Sequence[str] = ("geojson",),
           excel: bool = False) -> dict[str, Path]:
    """Write every output into staging folders, then commit them together (see :class:`OutputSet`).

    The town profiles (``profiles/`` beside the maps) are part of the set: the folder is staged
    and replaces the previous one as a whole at the commit (so profiles of towns no longer in
    the results go with it).
    """
    targets: dict[str, Path] = {}
    sc = result.scenario
    with plan.writing() as staging:
        surface_path: Path | None = None
        if out_dir is not None:
            out = Path(out_dir)
            staged = export_results(staging.path(out / "results.gpkg").parent, towns=result.towns,
                                    centres=result.centres, catchments=result.catchments, flows=result.flows,
                                    roads=result.layers.roads, formats=formats, excel=excel,
                                    metadata={"scenario": sc.name, "scenario_description": sc.description,
                                              "geoplan_version": _version()})
            targets.update({name: out / Path(path).name for name, path in staged.items()})
            if result.agglomerations is not None:
                write_geojson(result.agglomerations.centres, staging.path(out / "agglomerations.geojson"),
                              id_column="centre", name="agglomerations")
                write_csv(result.agglomerations.districts, staging.path(out / "agglomerations.csv"))
                targets["agglomerations"] = out / "agglomerations.geojson"
                targets["agglomerations_table"] = out / "agglomerations.csv"
            decree = result.agglomerations.decree_comparison if result.agglomerations is not None else None
            write_csv(decree if decree is not None else pd.DataFrame(columns=list(COMPARISON_COLUMNS)),
                      staging.path(out / "decree_comparison.csv"))
            targets["decree_comparison"] = out / "decree_comparison.csv"
            if result.surface is not None:
                surface_path = write_surface(staging.path(out / "surface.tif"), result.surface)
                targets["surface"] = out / "surface.tif"
                write_text_atomic(staging.path(out / "surface.qml"), surface_qml(bands=sc.catchments.bands))
                targets["surface_style"] = out / "surface.qml"
            write_csv(result.relocation_modes if result.relocation_modes is not None else pd.DataFrame(),
                      staging.path(out / "relocation_comparison.csv"))
            years = result.policy.years if result.policy is not None else pd.DataFrame(
                columns=["year", "region", "quota", "placed", "used"])
            write_csv(years, staging.path(out / "relocation_years.csv"))
            targets.update({"relocation_comparison": out / "relocation_comparison.csv",
                            "relocation_years": out / "relocation_years.csv"})
            if result.sensitivity is not None:
                write_csv(sensitivity_table(result.sensitivity, towns=result.towns),
                          staging.path(out / "sensitivity.csv"))
                ranking_png(result.towns, staging.path(out / "ranking.png"),
                            fragile_share=sc.sensitivity.fragile_share)
                targets.update({"sensitivity": out / "sensitivity.csv", "ranking_png": out / "ranking.png"})
        mdir = Path(maps_dir) if maps_dir is not None else (Path(out_dir) if out_dir is not None else None)
        if with_maps and mdir is not None:
            # The overlay reads the GeoTIFF already staged with the data outputs; write one only
            # when there are no data outputs.
            if result.surface is not None and surface_path is None:
                surface_path = write_surface(staging.scratch("surface-overlay.tif"), result.surface)
            maps = write_maps(staging.path(mdir / "agglomeration.html").parent, towns=result.towns,
                              centres=result.centres, catchments=result.catchments, flows=result.flows,
                              roads=result.layers.roads, surface=surface_path,
                              boundaries=_optional_layer(result.layers, "boundaries"),
                              settlements=_optional_layer(result.layers, "settlements"),
                              context=_map_context(result, profiles=True))
            targets.update({key: mdir / path.name for key, path in maps.items()})
            write_profiles(staging.path(mdir / "profiles"), result.towns, centres=result.centres,
                           od=result.od.long(), boundaries=_optional_layer(result.layers, "boundaries"),
                           scenario=sc.name)
            targets["profiles"] = mdir / "profiles" / "index.html"
    return targets


def summary_table(result: RunResult) -> pd.DataFrame:
    """Tabulate the figures a planner reads first, one row per town.

    Parameters
    ----------
    result
        A run from :func:`run`.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``town``, ``population``, ``category``, ``nearest centre``, ``min``, ``km``
        (whole numbers) and ``destination``, as far as the towns result has them; sorted by
        category and id.
    """
    t = result.towns
    cols = {
        "id": "id",
        "name_en": "town",
        "population": "population",
        "category": "category",
        "nearest_centre_name": "nearest centre",
        "minutes": "min",
        "km": "km",
        "destination": "destination",
    }
    present = [c for c in cols if c in t.columns]
    table = pd.DataFrame(t[present]).rename(columns=cols)
    for c in ("min", "km"):
        if c in table:
            table[c] = table[c].round(0).astype("Int64")
    if "destination" in table:
        table["destination"] = table["destination"].astype(object).where(table["destination"].notna(), "")
    return table.sort_values(["category", "id"], kind="stable").reset_index(drop=True)


def compare(
    a: Scenario | str | os.PathLike[str],
    b: Scenario | str | os.PathLike[str],
    *,
    layers: LayerSet | str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    maps_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Run two scenarios and return the towns whose category, nearest centre, time or destination changed.

    Parameters
    ----------
    a, b
        The scenarios: :class:`~geoplan.scenario.Scenario` objects or YAML files.
    layers
        A layer set or its path for both runs; default: each scenario's ``layers`` key, else the
        embedded Kazakhstan layers.
    progress
        Log each stage (see :func:`run`).
    maps_dir
        Also write ``difference.html`` there: a map of the towns whose category, rank, nearest
        centre or destination changed (before → after), the roads added, closed or changed and
        the catchment bands of both runs (see :func:`geoplan.maps.difference_map`).

    Returns
    -------
    pandas.DataFrame
        See :func:`geoplan.classify.compare_results`; the columns carry the scenarios' names.
    """
    sa, sb = _scenario(a), _scenario(b)
    ra = run(scenario=sa, layers=layers, with_surface=False, progress=progress)
    rb = run(scenario=sb, layers=layers, with_surface=False, progress=progress)
    if maps_dir is not None:
        from geoplan.maps import difference_map, save_map

        ctx = _map_context(rb)
        ctx = MapContext(scenario=f"{sa.name} → {sb.name}", description=sb.description, run_date=ctx.run_date,
                         speeds=ctx.speeds, access_kph=ctx.access_kph, offroad_kph=ctx.offroad_kph, bands=ctx.bands,
                         agglomeration_minutes=ctx.agglomeration_minutes, planned_roads=ctx.planned_roads)
        before = {"towns": ra.towns, "centres": ra.centres, "catchments": ra.catchments, "roads": ra.layers.roads}
        after = {"towns": rb.towns, "centres": rb.centres, "catchments": rb.catchments, "roads": rb.layers.roads}
        Path(maps_dir).mkdir(parents=True, exist_ok=True)
        save_map(difference_map(before, after, names=(sa.name, sb.name),
                                boundaries=_optional_layer(rb.layers, "boundaries"),
                                settlements=_optional_layer(rb.layers, "settlements"), context=ctx),
                 Path(maps_dir) / "difference.html")
    return compare_results(ra.towns, rb.towns, names=(sa.name, sb.name))
