"""Road networks: from a roads layer to a routable graph.

The package is split by job: :mod:`~geoplan.network.graph` (the :class:`RoadNetwork` container
and its writer), :mod:`~geoplan.network.speeds` (the speed model), :mod:`~geoplan.network.build`
(roads layer -> network), :mod:`~geoplan.network.snap` (attaching places) and
:mod:`~geoplan.network.rail` (the railway network). Every public name is importable from
``geoplan.network``.

:func:`build_network` turns a roads layer (hand-made, or from :mod:`geoplan.osm`) into a
:class:`RoadNetwork`: nodes at segment ends and at vertices shared by several roads (a dangling
end within a snapping tolerance of another node, in metres in a metric CRS, is merged into it),
directed edges with length, speed and travel time. The network is held as flat arrays
(pandana's lesson: no Python object per node), turns into a CSR matrix for
:mod:`scipy.sparse.csgraph`, and into an osmnx-compatible ``networkx.MultiDiGraph`` for
interoperability. :func:`attach_places` connects towns and centres by projecting them onto the
nearest edge (not the nearest node) with an access leg.

Default speeds (:data:`~geoplan.settings.DEFAULT_SPEEDS_KPH`, with the reasons for them) are
average travel speeds for Kazakhstan, not speed limits. Four-lane trunk and primary roads get
:data:`~geoplan.settings.FOUR_LANE_BONUS_KPH` more; unpaved surfaces are capped at
:data:`~geoplan.settings.UNPAVED_CAP_KPH`. A ``speed_kph`` value on a road overrides all of
this, and a run can pass its own ``speeds`` table.

:func:`build_rail_network` makes the same kind of network from the optional ``rail`` and
``rail_stations`` layers (nodes are stations, edges are links with their track length), and
:func:`attach_served_places` joins each town and centre to the station(s) that serve it, so
that :func:`geoplan.traveltime.od_matrix` gives rail travel times between places.
"""

from geoplan.network.build import build_network
from geoplan.network.graph import RoadNetwork, Weight, network_from_arrays, write_network
from geoplan.network.rail import attach_served_places, build_rail_network
from geoplan.network.snap import attach_places
from geoplan.network.speeds import road_speeds
from geoplan.settings import DEFAULT_SPEEDS_KPH, FOUR_LANE_BONUS_KPH, RAIL_SPEED_KPH, UNPAVED_CAP_KPH

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "FOUR_LANE_BONUS_KPH",
    "UNPAVED_CAP_KPH",
    "RoadNetwork",
    "Weight",
    "build_network",
    "attach_places",
    "network_from_arrays",
    "road_speeds",
    "write_network",
    "RAIL_SPEED_KPH",
    "build_rail_network",
    "attach_served_places",
]
