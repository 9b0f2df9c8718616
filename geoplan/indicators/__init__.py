"""The indicator catalogue and the indicator table of the towns.

A composite assessment needs two things (OECD/JRC *Handbook on Constructing Composite
Indicators*, 2008, steps 2 and 4): a declared set of indicators, each with its unit, its theme
(group), its direction (is more better or worse?), its year and its source, and a table of their
values per town. The package holds both, split by job:

- :mod:`~geoplan.indicators.catalogue`: the declarations and the user's own values.
  :class:`Indicator` and :class:`Catalogue`; :data:`BUILTIN` lists the indicators geoplan
  computes itself; a catalogue file (``indicator_catalogue.csv``: ``name``, ``unit``, ``group``,
  ``direction``, ``year``, ``source``, ``description``, ``in_index``) adds a user's own
  indicators (an akimat's 78 socio-economic indicators) without touching code, and may
  re-declare the built-in ones to change their group or take them out of the index.
  :func:`read_table` reads a user's indicator table (``indicators.csv`` keyed by town ``id``;
  wide, one column per indicator, or long, ``id, indicator, value``). Only the columns the
  catalogue declares are used; a declared column that is missing or holds text is an error
  naming the file, the column and the towns.
- :mod:`~geoplan.indicators.computed`: :func:`compute`, the indicators geoplan computes from
  the layers and the travel times (their definitions are in that module's docstring), with its
  building blocks :func:`od_arrays`, :func:`populations` and :func:`population_trend`.

Every public name is importable from ``geoplan.indicators``.

Missing values are never filled in: an indicator that cannot be computed (no census pair, no
reachable centre) is NaN and is named in the town's ``missing`` column.

Examples
--------
>>> from geoplan.indicators import BUILTIN, Catalogue
>>> cat = Catalogue.builtin()
>>> cat["minutes"].direction, cat["minutes"].group
('lower_better', 'accessibility')
>>> [i.name for i in cat.in_index()][:3]
['population', 'growth_pct_per_year', 'resource_score']
"""

from geoplan.indicators.catalogue import (
    BUILTIN,
    CATALOGUE_COLUMNS,
    DIRECTIONS,
    Catalogue,
    Direction,
    Indicator,
    catalogue_for,
    group_map,
    layer_folder,
    load_inputs,
    read_catalogue,
    read_table,
)
from geoplan.indicators.computed import (
    CENSUS_DATES,
    ENTERPRISE_SCORES,
    RESOURCE_SCORES,
    compute,
    descriptive_columns,
    od_arrays,
    population_trend,
    populations,
)

__all__ = [
    "BUILTIN",
    "CENSUS_DATES",
    "CATALOGUE_COLUMNS",
    "DIRECTIONS",
    "ENTERPRISE_SCORES",
    "RESOURCE_SCORES",
    "Catalogue",
    "Direction",
    "Indicator",
    "catalogue_for",
    "compute",
    "descriptive_columns",
    "group_map",
    "layer_folder",
    "load_inputs",
    "od_arrays",
    "population_trend",
    "populations",
    "read_catalogue",
    "read_table",
]
