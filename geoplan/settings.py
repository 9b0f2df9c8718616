"""Every default, vocabulary and threshold of geoplan, documented once.

This module is the bottom of the import graph: it imports nothing from geoplan and nothing
heavy, so every module (and the command line at start-up) can read it. The layer schemas
take their vocabularies from here, the scenario model (:mod:`geoplan.scenario`) takes its
defaults from here, and keyword defaults of the public functions name these constants: a
number is typed once, here, with the reason for it.

Sections: vocabularies; speeds; network building; layer validation; the analysis defaults
that a scenario file can change; coordinate reference systems and output formats; maps and
figures; logging and progress.

Examples
--------
>>> from geoplan import settings
>>> settings.DEFAULT_SPEEDS_KPH["trunk"], settings.AGGLOMERATION_MAX_MINUTES
(80.0, 90.0)
>>> set(settings.DEFAULT_SPEEDS_KPH) == set(settings.ROAD_CLASSES)
True
"""

from __future__ import annotations

from typing import Final

__all__ = [
    # vocabularies
    "ROAD_CLASSES",
    "SURFACES",
    "UNPAVED_SURFACES",
    "UNPAVED_OSM_SURFACES",
    "RESOURCE_STATUS",
    "ENTERPRISE_STATUS",
    "CENTRE_ROLES",
    "LENGTH_SOURCES",
    "STATION_KINDS",
    "YES_NO_UNKNOWN",
    "TRACKS",
    "PLACE_TYPES",
    "CATEGORIES",
    "CENSUS_YEARS",
    # speeds
    "DEFAULT_SPEEDS_KPH",
    "FOUR_LANE_BONUS_KPH",
    "UNPAVED_CAP_KPH",
    "MAX_KPH",
    "RAIL_SPEED_KPH",
    "ACCESS_KPH",
    "OFFROAD_KPH",
    # network
    "SNAP_TOLERANCE_M",
    "MAX_SNAP_KM",
    # validation
    "VALIDATION_SNAP_TOLERANCE_M",
    "MAX_ACCESS_KM",
    "EXTENT_MARGIN_DEG",
    "OUTSIDE_BOUNDARIES_M",
    "COVERAGE_TOLERANCE_KM2",
    # analysis defaults (scenario keys)
    "AGGLOMERATION_MAX_MINUTES",
    "MIN_CENTRE_POPULATION",
    "CENTRE_LARGER_THAN_TOWN",
    "HALF_LIFE_MINUTES",
    "MIN_TREND_YEARS",
    "DECLINE_PCT_PER_YEAR",
    "RELOCATION_MAX_POPULATION",
    "SHARE_TO_MOVE",
    "CAPACITY_SHARE",
    "RELOCATION_MAX_MINUTES",
    "MIN_DESTINATION_POPULATION",
    "N_CANDIDATES",
    "FRAGILE_SHARE",
    "MIN_MINUTES_CHANGE",
    "CATCHMENT_BANDS",
    "CATCHMENT_BUFFER_M",
    "SURFACE_RESOLUTION_M",
    "STUDY_AREA_MARGIN_M",
    # CRS and formats
    "LONLAT_CRS",
    "UTM_MAX_SPAN_DEG",
    "GEOJSON_PRECISION",
    "GPKG_TIMESTAMP",
    # maps and figures
    "MAP_SIMPLIFY_M",
    "FIGURE_DPI",
    "FIGURE_WIDTH_IN",
    # logging and progress
    "LOGGER_NAME",
    "LOG_FORMAT",
    "PROGRESS_ENV",
]

# --------------------------------------------------------------------------------------
# vocabularies

#: Road classes geoplan knows, in OpenStreetMap's ``highway=*`` vocabulary so that layers made
#: from OSM and hand-made layers share one speed table. Ordered from the fastest to the slowest.
ROAD_CLASSES: Final[tuple[str, ...]] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "track",
)
#: Values of a road's ``surface`` field.
SURFACES: Final[tuple[str, ...]] = ("asphalt", "concrete", "paved", "gravel", "unpaved", "dirt")
#: The :data:`SURFACES` that get the unpaved speed cap (:data:`UNPAVED_CAP_KPH`).
UNPAVED_SURFACES: Final[tuple[str, ...]] = ("gravel", "unpaved", "dirt")
#: OSM ``surface=*`` values beyond :data:`SURFACES` that also get the unpaved speed cap.
UNPAVED_OSM_SURFACES: Final[tuple[str, ...]] = (
    "compacted", "fine_gravel", "ground", "earth", "sand", "grass", "mud", "pebblestone", "rock", "soil",
)
#: State of a town's resource base (``towns.resource_status``).
RESOURCE_STATUS: Final[tuple[str, ...]] = ("depleted", "declining", "stable", "growing", "not_resource")
#: State of a town's town-forming enterprise (``towns.enterprise_status``).
ENTERPRISE_STATUS: Final[tuple[str, ...]] = ("operating", "partly_operating", "closed")
#: Role of a growth centre (``centres.role``).
CENTRE_ROLES: Final[tuple[str, ...]] = ("republican", "regional_centre", "other")
#: Where a road's ``length_km`` comes from.
LENGTH_SOURCES: Final[tuple[str, ...]] = ("published", "estimated")
#: Kinds of railway station (``rail_stations.kind``).
STATION_KINDS: Final[tuple[str, ...]] = ("city", "town", "junction", "border")
#: Values of yes/no fields that may be unknown (``rail.passenger``, ``rail.electrified``).
YES_NO_UNKNOWN: Final[tuple[str, ...]] = ("yes", "no", "unknown")
#: Number of tracks of a railway link.
TRACKS: Final[tuple[str, ...]] = ("1", "2", "3", "4", "unknown")
#: OpenStreetMap ``place=*`` values of populated places (``settlements.place``).
PLACE_TYPES: Final[tuple[str, ...]] = (
    "city", "town", "village", "hamlet", "isolated_dwelling", "suburb", "quarter", "neighbourhood", "locality", "farm",
    "allotments",
)
#: Town categories: the four policy tracks, then towns that were not assessed; legends list
#: them in this order.
CATEGORIES: Final[tuple[str, ...]] = ("agglomeration", "diversification", "relocation", "monitor", "not_assessed")
#: Years of the national censuses whose counts a towns layer may carry (``population_<year>``):
#: 1999, 2009 and 2021 in Kazakhstan.
CENSUS_YEARS: Final[tuple[int, ...]] = (1999, 2009, 2021)

# --------------------------------------------------------------------------------------
# speeds

#: Average travel speed by road class, km/h. These are averages for Kazakhstan, not speed
#: limits: the Rules of the Road allow 90 km/h outside settlements (110 on motorways, up to
#: 140 on the toll expressways) and 60 km/h in them; averages are lower because roads cross
#: villages, carry heavy trucks and vary in condition. They reproduce typical door-to-door
#: times: Astana-Karaganda (205 km, mostly toll motorway) in about 2 h 20, Karaganda-Balkhash
#: (372 km, four-lane trunk) in about 4 h 10, Pavlodar-Ekibastuz (135 km, two-lane trunk) in
#: about 1 h 40. A scenario's ``speeds`` section overrides single classes.
DEFAULT_SPEEDS_KPH: Final[dict[str, float]] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 70.0,
    "primary_link": 45.0,
    "secondary": 60.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 35.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 20.0,
}
#: Extra speed of trunk and primary roads with four or more lanes (divided, I-b category), km/h.
FOUR_LANE_BONUS_KPH: Final = 10.0
#: Speed cap on gravel, dirt and other unpaved surfaces, km/h.
UNPAVED_CAP_KPH: Final = 40.0
#: Highest speed a scenario may give a road class, km/h (the toll expressways' limit is 140).
MAX_KPH: Final = 200.0
#: Default average speed of a passenger train between stations, km/h, stops included.
#: Kazakhstan's long-distance trains average 50-60 km/h over whole routes (timetables in the
#: fact notes: Balkhash-Almaty-2 51 and 58 km/h, the Pavlodar-Almaty Talgo via Semey 54-56
#: km/h); faster electric and Talgo services on Astana-Karaganda and Astana-Kokshetau reach
#: 75-90 km/h, the Taraz-Zhanatas local train 45 km/h. 60 km/h sits in the middle of the
#: long-distance range; links with a scheduled time (``typical_minutes``) use it instead.
RAIL_SPEED_KPH: Final = 60.0
#: Speed on the access leg from a town's point to its nearest road (town streets), km/h.
ACCESS_KPH: Final = 30.0
#: Speed across country, off the roads layer (travel-time surface), km/h: the ``track`` speed.
OFFROAD_KPH: Final = DEFAULT_SPEEDS_KPH["track"]

# --------------------------------------------------------------------------------------
# network building

#: A dangling road end this close to another node joins it, metres. 1 m mends rounding;
#: hand-drawn layers with gaps need tens of metres; OpenStreetMap needs 0 (its topology comes
#: from shared node ids).
SNAP_TOLERANCE_M: Final = 1.0
#: A place farther than this from every road is not attached (unreachable), km.
MAX_SNAP_KM: Final = 25.0

# --------------------------------------------------------------------------------------
# layer validation (geoplan layers check)

#: Road ends closer than this to another road (but not on it) are reported as dangling, metres.
VALIDATION_SNAP_TOLERANCE_M: Final = 100.0
#: Towns and centres farther than this from every road are reported, km (the same reach as
#: :data:`MAX_SNAP_KM`).
MAX_ACCESS_KM: Final = MAX_SNAP_KM
#: Slack around a layer set's declared extent before a feature counts as outside it, degrees.
EXTENT_MARGIN_DEG: Final = 0.5
#: A place this close outside every district is not reported, metres (a shore village against a
#: simplified coastline; the embedded boundaries move borders by up to about 1 km).
OUTSIDE_BOUNDARIES_M: Final = 200.0
#: Overlaps and gaps between boundaries smaller than this are digitising noise, not reported, km2.
COVERAGE_TOLERANCE_KM2: Final = 0.01

# --------------------------------------------------------------------------------------
# analysis defaults: the keys of a scenario file (see geoplan.scenario)

#: ``agglomeration.max_minutes``: Russia's 2025 monotown rules count settlements within 1.5 h
#: of transport accessibility of a core city as part of its agglomeration.
AGGLOMERATION_MAX_MINUTES: Final = 90.0
#: ``agglomeration.min_centre_population``: OECD/EU functional urban areas need an urban
#: centre of at least 50,000 people.
MIN_CENTRE_POPULATION: Final = 50_000
#: ``agglomeration.centre_larger_than_town``: a town cannot belong to a smaller city's
#: agglomeration.
CENTRE_LARGER_THAN_TOWN: Final = True
#: ``accessibility.half_life_minutes``: Hansen decay exp(-beta t) with beta = ln 2 / 60 per
#: minute: a centre one hour away counts half, three hours away an eighth; daily commuting
#: fades after an hour, so does a centre's everyday pull.
HALF_LIFE_MINUTES: Final = 60.0
#: ``indicators.min_trend_years``: a shorter population trend is noise (Stepnogorsk's latest
#: figure is from 2012, three years after the 2009 census), years.
MIN_TREND_YEARS: Final = 5.0
#: ``categories.decline_pct_per_year``: a town is declining when its population trend is below
#: this, %/yr. Relocation needs a town that loses people in absolute terms although
#: Kazakhstan's population grew about 1.4 %/yr between the 2009 and 2021 censuses.
DECLINE_PCT_PER_YEAR: Final = 0.0
#: ``categories.relocation_max_population``: a "small" town (a relocation candidate) has at
#: most this many people; a town of 50,000+ is itself an urban centre by the OECD definition:
#: diversify or monitor, not empty it.
RELOCATION_MAX_POPULATION: Final = MIN_CENTRE_POPULATION
#: ``relocation.share_to_move``: planning assumption, the share of residents a voluntary
#: programme reaches; set it from the budget.
SHARE_TO_MOVE: Final = 0.2
#: ``relocation.capacity_share``: newcomers up to 5 % of a destination's population over the
#: programme do not strain its housing, schools and clinics; set it from housing plans.
CAPACITY_SHARE: Final = 0.05
#: ``relocation.max_minutes``: 12 h by road (a day's drive) keeps family ties.
RELOCATION_MAX_MINUTES: Final = 720.0
#: ``relocation.min_destination_population``: a destination needs a diversified labour
#: market; smaller centres are themselves single-industry (Zhezkazgan).
MIN_DESTINATION_POPULATION: Final = 100_000
#: ``relocation.n_candidates``: destinations ranked per town that the allocation may use.
N_CANDIDATES: Final = 3
#: ``sensitivity.fragile_share``: a town whose category holds in fewer than 80 % of the
#: sensitivity runs is marked fragile (maps, ranking chart, tables).
FRAGILE_SHARE: Final = 0.8
#: Two runs' travel times that differ by less than this are the same (rounding noise, not a
#: change), minutes: ``geoplan compare`` and the difference map.
MIN_MINUTES_CHANGE: Final = 0.5
#: ``catchments.bands``: half-hour bands up to the 2 h commuting limit, minutes.
CATCHMENT_BANDS: Final[tuple[int, ...]] = (30, 60, 90, 120)
#: Corridor half-width around the roads a catchment reaches, metres (``geoplan catchments``).
CATCHMENT_BUFFER_M: Final = 2000.0
#: ``surface.resolution_m``: 1 km cells, finer than the schematic roads are accurate.
SURFACE_RESOLUTION_M: Final = 1000.0
#: Margin around the default study area of a surface (the convex hull of roads and places), m.
STUDY_AREA_MARGIN_M: Final = 10_000.0

# --------------------------------------------------------------------------------------
# coordinate reference systems and output formats

#: CRS of every layer geoplan reads and writes: WGS 84 longitude/latitude (RFC 7946 GeoJSON).
LONLAT_CRS: Final = "EPSG:4326"
#: Areas up to this many degrees wide and tall are measured in their UTM zone; larger ones in
#: an Albers equal-area conic fitted to them (:func:`geoplan.layers.metric_crs`).
UTM_MAX_SPAN_DEG: Final = 6.0
#: Decimals of GeoJSON coordinates: RFC 7946 section 11.2 recommends 6 (about 10 cm).
GEOJSON_PRECISION: Final = 6
#: The date written into a GeoPackage's ``gpkg_contents.last_change``: fixed, so that the
#: same layers always give the same bytes (GDAL writes the current time otherwise).
GPKG_TIMESTAMP: Final = "2000-01-01T00:00:00.000Z"

# --------------------------------------------------------------------------------------
# maps and figures

#: Tolerance for simplifying catchment polygons on the web maps, metres; road lines get half of
#: it. Invisible at the zoom levels of a country map and keeps the pages small.
MAP_SIMPLIFY_M: Final = 500.0
#: Resolution of the PNG figures (categories map, ranking chart), dots per inch.
FIGURE_DPI: Final = 150
#: Width of the PNG figures, inches (an A4 page less its margins at full width).
FIGURE_WIDTH_IN: Final = 10.0

# --------------------------------------------------------------------------------------
# logging and progress

#: Name of geoplan's logger; the library logs through it and adds no handler of its own, so it
#: is quiet unless the application (the ``geoplan`` command, a notebook) configures logging.
LOGGER_NAME: Final = "geoplan"
#: Format of the log lines the ``geoplan`` command writes to stderr: the message alone (stage
#: lines such as ``[3/11] travel times: done in 1.2 s``).
LOG_FORMAT: Final = "%(message)s"
#: Environment variable that turns progress bars on (``1``) or off (``0``) for library calls
#: that were not told either way; unset means off, except under the ``geoplan`` command.
PROGRESS_ENV: Final = "GEOPLAN_PROGRESS"
