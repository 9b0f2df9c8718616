"""Scenario sections of the assessment: indicators, composite index, decision table, sensitivity, relocation.

Defaults and why
----------------
``indicators``
    ``catalogue`` / ``table``: files relative to the scenario (default: ``indicator_catalogue.csv``
    and ``indicators.csv`` in the layer folder when present, else the built-in catalogue only).
    ``min_trend_years`` 5: a shorter population trend is noise (Stepnogorsk's latest figure is
    from 2012, three years after the 2009 census). ``city_population`` 100,000: a city with a
    diversified labour market (the relocation destinations' size). ``reach_minutes`` 60, 90:
    the daily-commuting hour and the 1.5 h of Russia's 2025 agglomeration rule.
``composite``
    ``normalisation`` min-max (the Handbook's default for indicators with bounded ranges; keeps
    the 0-100 scale readable), ``aggregation`` arithmetic (transparent, compensatory; geometric
    is the less compensatory option), ``weights``/``group_weights`` equal (the Handbook's advice
    without a participatory weighting), ``min_coverage`` 0.75: a town needs values for three
    quarters of the index weight to be scored, ``groups``: three groups by quantiles (the June
    2025 government classification uses three groups; quantiles avoid empty groups).
``categories``
    The decision table (first matching rule wins) and its thresholds; see :class:`CategoriesConfig`.
``sensitivity``
    2,000 Latin-hypercube runs (rank intervals stable to about one rank), seed 20251,
    ``fragile_share`` 0.8 (a decision that holds in fewer than 80 % of runs is fragile),
    ``borderline_share`` 0.1 (within 10 % of a threshold), and the documented ranges of every
    assumption.
``relocation``
    ``mode`` ``cities`` (the large cities, capacity a share of their population) or ``policy``
    (the regions the Government designates as receivers, within the yearly quotas).
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from geoplan import settings as S

__all__ = [
    "CATEGORY_VALUES",
    "CategoriesConfig",
    "CompositeConfig",
    "GroupsConfig",
    "IndicatorsConfig",
    "PolicyConfig",
    "RelocationConfig",
    "Rule",
    "SensitivityConfig",
    "default_rules",
]

#: Values of ``centres.role`` (a growth point is a town that is itself such a centre).
CentreRole = Literal["republican", "regional_centre", "other"]
Normalisation = Literal["minmax", "zscore", "rank"]
Aggregation = Literal["arithmetic", "geometric"]

CATEGORY_VALUES: tuple[str, ...] = ("agglomeration", "diversification", "relocation", "monitor")


def _no_nul(v: str | None) -> str | None:
    """Refuse a path with a NUL character (pathlib would raise a bare ValueError later)."""
    if v is not None and "\0" in v:
        raise ValueError("a path cannot contain a NUL character")
    return v


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


class IndicatorsConfig(_Section):
    """Where the indicator catalogue and table come from, and the computed indicators' parameters."""

    catalogue: str | None = Field(None, description="indicator catalogue CSV, relative to the scenario file; "
                                                    "default: indicator_catalogue.csv in the layer folder")
    table: str | None = Field(None, description="indicator table CSV keyed by town id, relative to the scenario "
                                                "file; default: indicators.csv in the layer folder")
    min_trend_years: float = Field(S.MIN_TREND_YEARS, ge=0, le=100, description="shortest population trend, years")
    city_population: int = Field(100_000, gt=0, description="smallest city for minutes_city/km_city")
    reach_minutes: list[Annotated[float, Field(gt=0, le=24 * 60)]] = Field(
        default_factory=lambda: [60.0, 90.0], description="bands of population_<minutes>")

    _paths = field_validator("catalogue", "table")(classmethod(lambda cls, v: _no_nul(v)))


class GroupsConfig(_Section):
    """Groups of potential: names (best first) and how the scores are cut."""

    method: Literal["quantiles", "fixed", "jenks"] = Field("quantiles", description="how scores are grouped")
    names: list[str] = Field(default_factory=lambda: ["high", "medium", "low"],
                             description="group names, highest potential first")
    cutoffs: list[float] | None = Field(None, description="for method fixed: len(names)-1 decreasing score limits")

    @model_validator(mode="after")
    def _consistent(self) -> GroupsConfig:
        if len(self.names) < 2 or len(set(self.names)) != len(self.names):
            raise ValueError("give at least two different group names, highest potential first")
        if self.method == "fixed":
            c = self.cutoffs or []
            if len(c) != len(self.names) - 1 or any(b >= a for a, b in itertools.pairwise(c)):
                raise ValueError(f"method fixed needs {len(self.names) - 1} decreasing cutoffs (got {c})")
        return self


class CompositeConfig(_Section):
    """The composite index (OECD/JRC Handbook 2008): normalisation, weights, aggregation, groups."""

    normalisation: Normalisation = Field("minmax", description="how indicators are scaled")
    aggregation: Aggregation = Field("arithmetic", description="how they are combined")
    weights: dict[str, float] = Field(default_factory=dict,
                                      description="indicator -> relative weight within its group (default 1)")
    group_weights: dict[str, float] = Field(default_factory=dict,
                                            description="group -> relative weight (default 1 each)")
    min_coverage: float = Field(0.75, ge=0, le=1, description="share of the index weight a town needs values for")
    groups: GroupsConfig = Field(default_factory=GroupsConfig)

    @field_validator("weights", "group_weights")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not w >= 0}
        if bad:
            k, w = next(iter(bad.items()))
            raise ValueError(f"weight of {k} is {w}; weights must be >= 0 (0 leaves it out)")
        return v


class Rule(_Section):
    """One row of the decision table: conditions (all must hold; left out = any) and the category.

    Conditions: ``group`` (name or list of names of the potential group), ``within_reach``
    (a qualifying growth centre within ``agglomeration.max_minutes``), ``growth_point`` (the town
    is itself a centre with a role in ``categories.growth_point_roles``), ``declining``
    (population trend below ``categories.decline_pct_per_year``), ``small`` (at most
    ``categories.relocation_max_population`` people).
    """

    category: Literal["agglomeration", "diversification", "relocation", "monitor"] = Field(
        description="category given when every condition holds")
    group: list[str] | None = Field(None, description="potential group(s)")
    within_reach: bool | None = Field(None, description="a qualifying centre within agglomeration.max_minutes")
    growth_point: bool | None = Field(None, description="the town is itself a regional or republican centre")
    declining: bool | None = Field(None, description="population trend below categories.decline_pct_per_year")
    small: bool | None = Field(None, description="at most categories.relocation_max_population people")

    @field_validator("group", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    def conditions(self) -> dict[str, Any]:
        """Return the conditions this rule sets (name -> required value)."""
        return {k: getattr(self, k) for k in ("growth_point", "within_reach", "group", "declining", "small")
                if getattr(self, k) is not None}


def default_rules() -> list[Rule]:
    """Return the default decision table (see :class:`CategoriesConfig`)."""
    return [
        # a regional or republican centre is a growth point itself, not part of another city's agglomeration
        Rule(category="diversification", growth_point=True),
        # a qualifying centre within reach (2023 agglomeration decree; Russia's 2025 rule of 1.5 h)
        Rule(category="agglomeration", within_reach=True),
        Rule(category="diversification", group=["high"]),
        Rule(category="diversification", group=["medium"], declining=False),
        Rule(category="relocation", group=["low"], declining=True, small=True),
        Rule(category="monitor"),  # everything else: the indicators point different ways
    ]


class CategoriesConfig(_Section):
    """The policy track of each town: list status, growth points and the decision table.

    Default decision table (first match wins): 1 growth point -> diversification; 2 within
    reach -> agglomeration; 3 high potential -> diversification; 4 medium potential, not
    declining -> diversification; 5 low potential, declining, small -> relocation; 6 monitor.
    A rule whose condition is unknown for a town (no trend, no score) stops the table: the town
    is ``monitor`` and its reason names what is missing.
    """

    analyse_exited: bool = Field(False, description="also assess towns that have left the monotown list")
    growth_point_roles: list[CentreRole] = Field(
        default_factory=lambda: list[CentreRole](["republican", "regional_centre"]),
        description="centre roles that make a town a growth point")
    decline_pct_per_year: float = Field(S.DECLINE_PCT_PER_YEAR, ge=-50, le=50,
                                        description="declining: population trend below this, %/yr")
    relocation_max_population: int = Field(S.RELOCATION_MAX_POPULATION, gt=0,
                                           description="small: at most this many people")
    rules: list[Rule] = Field(default_factory=default_rules, description="the decision table, first match wins")

    @model_validator(mode="after")
    def _catch_all(self) -> CategoriesConfig:
        if not self.rules:
            raise ValueError("the decision table needs at least one rule")
        if self.rules[-1].conditions():
            raise ValueError("the last rule must have no conditions (e.g. `- category: monitor`), so that every "
                             "town gets a category")
        return self


class SensitivityConfig(_Section):
    """The Monte Carlo (Latin hypercube) design of ``geoplan sensitivity`` and the marks of ``geoplan run``."""

    runs: int = Field(2000, ge=10, le=1_000_000, description="number of model runs")
    seed: int = Field(20251, ge=0, description="random seed (same seed, same results)")
    in_run: bool = Field(True, description="geoplan run also runs the sensitivity to mark fragile towns")
    fragile_share: float = Field(S.FRAGILE_SHARE, gt=0, le=1,
                                 description="fragile: the category holds in fewer runs than this")
    borderline_share: float = Field(0.1, ge=0, le=1, description="borderline: within this share of a threshold")
    weight_factor: tuple[float, float] = Field((0.5, 2.0), description="each group's weight times a factor in range")
    reach_minutes: tuple[float, float] = Field((60.0, 120.0), description="agglomeration.max_minutes range")
    min_centre_population: tuple[float, float] = Field((50_000.0, 150_000.0),
                                                       description="agglomeration.min_centre_population range")
    decline_pct_per_year: tuple[float, float] = Field((-1.0, 0.5), description="categories.decline_pct_per_year "
                                                                               "range")
    half_life_minutes: tuple[float, float] = Field((30.0, 120.0), description="Hansen half-life range")
    normalisations: list[Normalisation] = Field(
        default_factory=lambda: list[Normalisation](["minmax", "zscore", "rank"]),
        description="normalisations drawn from")
    aggregations: list[Aggregation] = Field(
        default_factory=lambda: list[Aggregation](["arithmetic", "geometric"]),
        description="aggregations drawn from")

    @model_validator(mode="after")
    def _ranges(self) -> SensitivityConfig:
        for name in ("weight_factor", "reach_minutes", "min_centre_population", "decline_pct_per_year",
                     "half_life_minutes"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"{name}: the range [{lo}, {hi}] must go from low to high")
        if self.weight_factor[0] <= 0 or self.half_life_minutes[0] <= 0 or self.reach_minutes[0] <= 0:
            raise ValueError("weight_factor, half_life_minutes and reach_minutes must be positive")
        if not self.normalisations or not self.aggregations:
            raise ValueError("give at least one normalisation and one aggregation")
        return self


class PolicyConfig(_Section):
    """Relocation along the state resettlement programme: receiving regions and yearly quotas."""

    quota_table: str | None = Field(None, description="quota CSV (year, region, quota_migrants ...), relative to "
                                                      "the scenario; default: resettlement_quotas.csv in the layers")
    start_year: int = Field(2026, ge=2000, le=2100, description="first year of the plan")
    years: int = Field(10, ge=1, le=50, description="years of the plan")
    quota_share: float = Field(1.0, gt=0, le=1, description="share of each year's migrant quota open to monotowns")
    later_years: Literal["repeat_last", "none"] = Field(
        "repeat_last", description="years after the last published quota: repeat it, or no quota")
    min_destination_population: int = Field(10_000, gt=0, description="smallest receiving place")

    _paths = field_validator("quota_table")(classmethod(lambda cls, v: _no_nul(v)))


class RelocationConfig(_Section):
    """Who moves, where to, and how much each destination can take."""

    mode: Literal["cities", "policy"] = Field("cities", description="cities: large cities by capacity share; "
                                                                   "policy: receiving regions within yearly quotas")
    share_to_move: float = Field(S.SHARE_TO_MOVE, gt=0, le=1,
                                 description="share of a relocation town's population to move")
    capacity_share: float = Field(S.CAPACITY_SHARE, gt=0, le=1,
                                  description="a destination takes at most this share of its population")
    max_minutes: float = Field(S.RELOCATION_MAX_MINUTES, gt=0, le=7 * 24 * 60,
                               description="farthest destination by road, minutes")
    min_destination_population: int = Field(S.MIN_DESTINATION_POPULATION, gt=0,
                                            description="smallest destination population")
    n_candidates: int = Field(S.N_CANDIDATES, ge=1, le=100,
                              description="ranked destinations per town the allocation may use")
    policy: PolicyConfig = Field(default_factory=PolicyConfig)


def check_consistency(scenario: Any) -> None:
    """Raise ValueError when the decision table names a potential group the index does not make."""
    names = list(scenario.composite.groups.names)
    for i, rule in enumerate(scenario.categories.rules):
        for g in rule.group or []:
            if g not in names:
                raise ValueError(f"categories.rules[{i}].group: {g!r} is not one of composite.groups.names "
                                 f"({', '.join(names)})")
