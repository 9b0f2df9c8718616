r"""Scenarios: every tunable number of a run in one typed, validated YAML file.

A scenario file holds the speeds, the thresholds of the classification, the relocation
parameters and the network edits of one run. It is validated with pydantic: unknown keys are
rejected, every number has a range, and an error names the file, the line and the key path
(``scenarios/x.yaml:7: agglomeration.max_minuts: unknown key (did you mean max_minutes?);
allowed: max_minutes, min_centre_population, centre_larger_than_town``). Keys left out take the
defaults below, so an empty file is the baseline.

The package is split by job: :mod:`~geoplan.scenario.models` (the typed model),
:mod:`~geoplan.scenario.loading` (files, ``extends``, error messages) and
:mod:`~geoplan.scenario.edits` (network edits). Every public name is importable from
``geoplan.scenario``.

Defaults
--------
Every default is a constant of :mod:`geoplan.settings`, documented there with the reason for
it; ``geoplan scenario show`` prints the values a scenario resolves to. The assessment
sections (``indicators``, ``composite``, ``categories``, ``sensitivity``, ``relocation``) are
described key by key in :mod:`geoplan.scenario.assessment`.

==============================================  ==========================================
key                                             default (:mod:`geoplan.settings`)
==============================================  ==========================================
``speeds.<road class>``                         ``DEFAULT_SPEEDS_KPH``
``network.snap_tolerance_m``                    ``SNAP_TOLERANCE_M``
``network.access_kph``                          ``ACCESS_KPH``
``network.max_snap_km``                         ``MAX_SNAP_KM``
``agglomeration.max_minutes``                   ``AGGLOMERATION_MAX_MINUTES``
``agglomeration.min_centre_population``         ``MIN_CENTRE_POPULATION``
``agglomeration.centre_larger_than_town``       ``CENTRE_LARGER_THAN_TOWN``
``accessibility.half_life_minutes``             ``HALF_LIFE_MINUTES`` (or give ``beta``)
``indicators.min_trend_years``                  ``MIN_TREND_YEARS``
``categories.decline_pct_per_year``             ``DECLINE_PCT_PER_YEAR``
``categories.relocation_max_population``        ``RELOCATION_MAX_POPULATION``
``relocation.share_to_move``                    ``SHARE_TO_MOVE``
``relocation.capacity_share``                   ``CAPACITY_SHARE``
``relocation.max_minutes``                      ``RELOCATION_MAX_MINUTES``
``relocation.min_destination_population``       ``MIN_DESTINATION_POPULATION``
``relocation.n_candidates``                     ``N_CANDIDATES``
``catchments.bands``                            ``CATCHMENT_BANDS``
``surface.resolution_m``                        ``SURFACE_RESOLUTION_M``
``surface.offroad_kph``                         ``OFFROAD_KPH``
==============================================  ==========================================

A file may start from another with ``extends: baseline.yaml``: the other file's keys come
first, this file's keys override them section by section, and its ``edits`` follow the other's.

Network edits (``edits``, applied in order by :func:`apply_edits`): ``add_roads`` (a roads
layer, path relative to the scenario file), ``set_class`` (road id -> class), ``set_speed``
(road id -> km/h), ``close`` (road ids). Each edit may carry a ``name`` and a ``source``.

Examples
--------
>>> from geoplan.scenario import Scenario, parse_scenario
>>> s = parse_scenario("agglomeration:\n  max_minutes: 60\n")
>>> s.agglomeration.max_minutes, s.agglomeration.min_centre_population
(60.0, 50000)
>>> round(Scenario.baseline().accessibility.beta_per_minute, 5)
0.01155

"""

from geoplan.scenario.assessment import CategoriesConfig, RelocationConfig
from geoplan.scenario.edits import apply_edits, scenario_layers
from geoplan.scenario.loading import dump_scenario, load_scenario, parse_scenario
from geoplan.scenario.models import (
    AccessibilityConfig,
    AgglomerationConfig,
    CatchmentsConfig,
    Edit,
    Kph,
    NetworkConfig,
    ResourceStatus,
    RoadClass,
    Scenario,
    SurfaceConfig,
)

__all__ = [
    "AccessibilityConfig",
    "AgglomerationConfig",
    "CatchmentsConfig",
    "CategoriesConfig",
    "Edit",
    "NetworkConfig",
    "RelocationConfig",
    "Scenario",
    "SurfaceConfig",
    "RoadClass",
    "ResourceStatus",
    "Kph",
    "apply_edits",
    "dump_scenario",
    "load_scenario",
    "parse_scenario",
    "scenario_layers",
]
