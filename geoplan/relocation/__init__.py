"""Relocation: where the residents of relocation towns could move, how many to each place, and when.

The package is split by mode:

- :mod:`~geoplan.relocation.cities` (the ``cities`` mode): :func:`rank_destinations` ranks the
  growth centres each relocation town could move to, :func:`allocate` splits its people among
  them within the centres' capacities at the smallest total person-minutes (a transportation
  problem, HiGHS), and :func:`relocate` runs both for a classified towns layer.
- :mod:`~geoplan.relocation.policy` (the ``policy`` mode): the receiving regions within their
  yearly resettlement quotas, phased over the plan's years as an integer program
  (:func:`read_quotas`, :func:`relocate_policy`), and :func:`compare_modes` to set the two
  modes side by side.

Every public name is importable from ``geoplan.relocation``.
"""

from geoplan.relocation.cities import (
    FLOW_COLUMNS,
    GROWTH_HORIZON_YEARS,
    RelocationResult,
    allocate,
    capacities,
    people_to_move,
    rank_destinations,
    relocate,
    straight_lines,
)
from geoplan.relocation.policy import (
    QUOTA_COLUMNS,
    PolicyResult,
    compare_modes,
    policy_as_result,
    quota_table_path,
    read_quotas,
    region_key,
    relocate_policy,
    yearly_quotas,
)

__all__ = [
    "FLOW_COLUMNS",
    "GROWTH_HORIZON_YEARS",
    "QUOTA_COLUMNS",
    "PolicyResult",
    "RelocationResult",
    "allocate",
    "capacities",
    "compare_modes",
    "people_to_move",
    "policy_as_result",
    "quota_table_path",
    "rank_destinations",
    "read_quotas",
    "region_key",
    "relocate",
    "relocate_policy",
    "straight_lines",
    "yearly_quotas",
]
