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
]
