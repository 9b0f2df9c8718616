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

Defaults and why
----------------
=========================================  ========  ==================================================
key                                        default   rationale
=========================================  ========  ==================================================
``speeds.<road class>``                    network   average travel speeds, km/h; see
                                                     :data:`geoplan.network.DEFAULT_SPEEDS_KPH`
``network.snap_tolerance_m``               1         a dangling road end this close to a node joins it;
                                                     1 m mends rounding (hand-drawn layers with gaps
                                                     need tens of metres, OpenStreetMap 0)
``network.access_kph``                     30        speed from a town centre to its road (streets)
``network.max_snap_km``                    25        a place farther from every road is unreachable
``agglomeration.max_minutes``              90        Russia's 2025 monotown rules count settlements
                                                     within 1.5 h of transport accessibility of a core
                                                     city as part of its agglomeration
``agglomeration.min_centre_population``    50,000    OECD/EU functional urban areas need an urban
                                                     centre of at least 50,000 people
``agglomeration.centre_larger_than_town``  true      a town cannot belong to a smaller city's
                                                     agglomeration
``accessibility.half_life_minutes``        60        Hansen decay exp(-beta t), beta = ln 2 / 60 per
                                                     minute: a centre one hour away counts half, three
                                                     hours away an eighth; daily commuting fades after
                                                     an hour, so does a centre's everyday pull
``categories.trend_census``                2009      the population trend runs from this census to the
                                                     latest figure (25 Feb 2009; 1999 is also allowed)
``categories.min_trend_years``             5         a trend over fewer years is noise (Stepnogorsk's
                                                     latest figure is from 2012)
``categories.shrinking_pct_per_year``      0.0       relocation needs a town that loses people in
                                                     absolute terms although Kazakhstan's population grew
                                                     about 1.4 %/yr between the 2009 and 2021 censuses
``categories.fast_decline_pct_per_year``   -1.0      diversification is ruled out when a town loses more
                                                     than 1 %/yr (a tenth of its people per decade)
``categories.diversification_resources``   growing,  an economic base that is still there
                                           stable,
                                           not_res.
``categories.relocation_resources``        depleted, an economic base that is going
                                           declining
``categories.relocation_if_enterprise_     true      a closed town-forming enterprise also counts as a
closed``                                             lost economic base
``categories.relocation_max_population``   50,000    a town of 50,000+ is itself an urban centre by the
                                                     OECD definition: diversify or monitor, not empty it
``categories.relocation_max_accessibility`` none     optional: relocate only towns whose Hansen index is
                                                     below this (people)
``relocation.share_to_move``               0.2       planning assumption: the share of residents a
                                                     voluntary programme reaches; set from the budget
``relocation.capacity_share``              0.05      newcomers up to 5 % of a destination's population
                                                     over the programme do not strain its housing,
                                                     schools and clinics; set from its housing plans
``relocation.max_minutes``                 720       12 h by road (a day's drive) keeps family ties
``relocation.min_destination_population``  100,000   a destination needs a diversified labour market;
                                                     smaller centres are themselves single-industry
                                                     (Zhezkazgan)
``relocation.n_candidates``                3         destinations ranked per town that the allocation
                                                     may use
``catchments.bands``                       30, 60,   half-hour bands up to the 2 h commuting limit
                                           90, 120
``surface.resolution_m``                   1000      1 km cells: finer than the schematic roads are
                                                     accurate (see :mod:`geoplan.surface`)
``surface.offroad_kph``                    20        cross-country at the network's ``track`` speed
=========================================  ========  ==================================================

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

from geoplan.scenario.edits import apply_edits
from geoplan.scenario.loading import dump_scenario, load_scenario, parse_scenario
from geoplan.scenario.models import (
    AccessibilityConfig,
    AgglomerationConfig,
    CatchmentsConfig,
    CategoriesConfig,
    Edit,
    Kph,
    NetworkConfig,
    RelocationConfig,
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
]
