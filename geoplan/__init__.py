"""geoplan: travel-time and catchment analysis for planning Kazakhstan's single-industry towns.

The public API follows the data flow: layers -> network -> travel times -> catchments,
surface and classification -> relocation -> maps and exports; :func:`run` wires it together.
No function is named like its module (a package attribute with a submodule's name would hide
the submodule), so every public function can be exported here: ``catchment_bands`` (module
``catchments``), ``nearest_centre_surface`` (module ``surface``).
"""

from typing import TYPE_CHECKING, Any

from geoplan._errors import (
    AnalysisError,
    GeoplanError,
    LayerError,
    LayerReadError,
    LayerValidationError,
    NetworkError,
    OutputError,
    ScenarioError,
)

# Everything past the error classes loads on first use (PEP 562), so that `geoplan --help`
# starts without importing geopandas, folium, matplotlib, osmnx or rasterio. Type checkers
# read the same names from the TYPE_CHECKING imports below (tests/test_typing.py checks that
# the two lists agree).
_LAZY = {
    "geoplan.layers": ("SCHEMAS", "LayerSet", "Problem", "ValidationConfig", "embedded_layers_path", "read_layers",
                       "require_valid", "validate", "write_layers"),
    "geoplan.osm": ("download_osm", "read_osm"),
    "geoplan.network": ("DEFAULT_SPEEDS_KPH", "RoadNetwork", "attach_places", "build_network",
                        "attach_served_places", "build_rail_network"),
    "geoplan.traveltime": ("ODMatrix", "od_matrix", "routes", "travel_times_from"),
    "geoplan.catchments": ("catchment_bands", "reached_edges"),
    "geoplan.surface": ("SurfaceResult", "friction_raster", "nearest_centre_surface", "sample_surface",
                        "travel_time_surface", "write_surface"),
    "geoplan.scenario": ("Scenario", "apply_edits", "dump_scenario", "load_scenario", "parse_scenario",
                         "scenario_layers"),
    "geoplan.composite": ("composite_index",),
    "geoplan.classify": ("classify_towns", "compare_results"),
    "geoplan.relocation": ("RelocationResult", "allocate", "rank_destinations", "relocate"),
    "geoplan.maps": ("MapContext", "agglomeration_map", "category_png", "difference_map", "relocation_map",
                     "render_map", "save_map", "write_maps"),
    "geoplan.profiles": ("write_profiles",),
    "geoplan.export": ("export_results", "write_results_gpkg"),
    "geoplan.pipeline": ("RunResult", "compare", "run", "summary_table"),
}
if TYPE_CHECKING:
    from geoplan.catchments import catchment_bands, reached_edges
    from geoplan.classify import classify_towns, compare_results
    from geoplan.composite import composite_index
    from geoplan.export import export_results, write_results_gpkg
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
    from geoplan.maps import (
        MapContext,
        agglomeration_map,
        category_png,
        difference_map,
        relocation_map,
        render_map,
        save_map,
        write_maps,
    )
    from geoplan.network import (
        DEFAULT_SPEEDS_KPH,
        RoadNetwork,
        attach_places,
        attach_served_places,
        build_network,
        build_rail_network,
    )
    from geoplan.osm import download_osm, read_osm
    from geoplan.pipeline import RunResult, compare, run, summary_table
    from geoplan.profiles import write_profiles
    from geoplan.relocation import RelocationResult, allocate, rank_destinations, relocate
    from geoplan.scenario import Scenario, apply_edits, dump_scenario, load_scenario, parse_scenario, scenario_layers
    from geoplan.surface import (
        SurfaceResult,
        friction_raster,
        nearest_centre_surface,
        sample_surface,
        travel_time_surface,
        write_surface,
    )
    from geoplan.traveltime import ODMatrix, od_matrix, routes, travel_times_from

_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'geoplan' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "GeoplanError",
    "LayerError",
    "LayerReadError",
    "LayerValidationError",
    "NetworkError",
    "OutputError",
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
    "build_rail_network",
    "attach_served_places",
    "ODMatrix",
    "od_matrix",
    "routes",
    "travel_times_from",
    "catchment_bands",
    "reached_edges",
    "SurfaceResult",
    "friction_raster",
    "nearest_centre_surface",
    "travel_time_surface",
    "write_surface",
    "sample_surface",
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "dump_scenario",
    "apply_edits",
    "scenario_layers",
    "composite_index",
    "classify_towns",
    "compare_results",
    "RelocationResult",
    "rank_destinations",
    "allocate",
    "relocate",
    "agglomeration_map",
    "relocation_map",
    "render_map",
    "save_map",
    "MapContext",
    "difference_map",
    "write_maps",
    "category_png",
    "write_profiles",
    "export_results",
    "write_results_gpkg",
    "RunResult",
    "run",
    "compare",
    "summary_table",
]
