"""geoplan: travel-time and catchment analysis for planning Kazakhstan's single-industry towns."""

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
# catchments() and surface() stay in their modules: a package attribute named like a submodule
# would hide it (``import geoplan.surface as m`` would bind the function).
from geoplan.catchments import reached_edges
from geoplan.surface import SurfaceResult, friction_raster, sample_surface, travel_time_surface, write_surface
from geoplan.scenario import Scenario, apply_edits, dump_scenario, load_scenario, parse_scenario
# classify() stays in geoplan.classify for the same reason.
from geoplan.classify import compare_results, indicators
from geoplan.relocation import RelocationResult, allocate, rank_destinations, relocate
from geoplan.maps import agglomeration_map, category_png, relocation_map, render_map, save_map
from geoplan.export import export_results, write_results_gpkg

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
]
