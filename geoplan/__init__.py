"""geoplan: travel-time and catchment analysis for planning Kazakhstan's single-industry towns.

The public API follows the data flow: layers -> network -> travel times -> catchments,
surface and classification -> relocation -> maps and exports; :func:`run` wires it together.
Functions named like their module (``catchments``, ``surface``, ``classify``) stay in that
module: a package attribute with a submodule's name would hide the submodule.
"""

from geoplan._errors import (
    AnalysisError,
    GeoplanError,
    LayerError,
    LayerReadError,
    LayerValidationError,
    NetworkError,
    ScenarioError,
)
from geoplan.layers import (
    SCHEMAS,
    LayerSet,
    Problem,
    ValidationConfig,
    embedded_layers_path,
    read_layers,
    require_valid,
    validate,
    write_layers,
)
from geoplan.osm import download_osm, read_osm
from geoplan.network import DEFAULT_SPEEDS_KPH, RoadNetwork, attach_places, build_network
from geoplan.traveltime import ODMatrix, od_matrix, routes, travel_times_from
from geoplan.catchments import reached_edges
from geoplan.surface import SurfaceResult, friction_raster, sample_surface, travel_time_surface, write_surface
from geoplan.scenario import Scenario, apply_edits, dump_scenario, load_scenario, parse_scenario
from geoplan.classify import compare_results, indicators
from geoplan.relocation import RelocationResult, allocate, rank_destinations, relocate
from geoplan.maps import agglomeration_map, category_png, relocation_map, render_map, save_map
from geoplan.export import export_results, write_results_gpkg
from geoplan.pipeline import RunResult, compare, run, summary_table

__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "GeoplanError",
    "LayerError",
    "LayerReadError",
    "LayerValidationError",
    "NetworkError",
    "ScenarioError",
    "SCHEMAS",
    "LayerSet",
    "Problem",
    "ValidationConfig",
    "embedded_layers_path",
    "read_layers",
    "require_valid",
    "validate",
    "write_layers",
    "read_osm",
    "download_osm",
    "DEFAULT_SPEEDS_KPH",
    "RoadNetwork",
    "build_network",
    "attach_places",
    "ODMatrix",
    "od_matrix",
    "routes",
    "travel_times_from",
    "reached_edges",
    "SurfaceResult",
    "friction_raster",
    "travel_time_surface",
    "write_surface",
    "sample_surface",
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "dump_scenario",
    "apply_edits",
    "indicators",
    "compare_results",
    "RelocationResult",
    "rank_destinations",
    "allocate",
    "relocate",
    "agglomeration_map",
    "relocation_map",
    "render_map",
    "save_map",
    "category_png",
    "export_results",
    "write_results_gpkg",
    "RunResult",
    "run",
    "compare",
    "summary_table",
]
