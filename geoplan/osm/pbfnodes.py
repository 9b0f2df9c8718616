"""Pick node locations out of an ``.osm.pbf`` file block by block, decoded with numpy.

The second pass of the streaming PBF reader needs the locations of only the nodes that the kept
roads use, but a country's file holds tens of millions of nodes. Handing each one to Python
(pyosmium) costs microseconds per node, and libosmium's id filter takes 4 MiB for every block
of 2**25 ids that holds a wanted node (most of them, for a country's roads). This module reads
the file's blobs one at a time (zlib or uncompressed, as Geofabrik writes them), decodes the
``DenseNodes`` arrays of each block with vectorised varint decoding, and keeps the wanted
nodes: memory is one block plus the nodes kept.

Format: the OSM PBF specification (``fileformat.proto``, ``osmformat.proto``): a blob header
length (4 bytes, big-endian), a ``BlobHeader``, then a ``Blob`` holding a ``PrimitiveBlock``
whose groups hold ``DenseNodes`` (packed, delta-coded, zig-zag ``sint64`` ids and coordinates)
or plain ``Node`` messages.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

__all__ = ["UnsupportedPBF", "node_locations"]


class UnsupportedPBF(Exception):
    """The file uses a feature this decoder does not read (e.g. LZ4 or ZSTD blobs)."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field number, wire type, value or start, end)`` of a protobuf message.

    For varints the value is in the third slot (and the fourth is -1); for length-delimited
    fields the third and fourth slots are the payload's start and end.
    """
    pos, stop = start, len(buf) if end is None else end
    while pos < stop:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value, -1
        elif wire == 2:
            size, pos = _varint(buf, pos)
            yield number, wire, pos, pos + size
            pos += size
        elif wire == 1:
            yield number, wire, int.from_bytes(buf[pos:pos + 8], "little"), -1
            pos += 8
        elif wire == 5:
            yield number, wire, int.from_bytes(buf[pos:pos + 4], "little"), -1
            pos += 4
        else:
            raise UnsupportedPBF(f"protobuf wire type {wire}")


def _packed_varints(data: bytes) -> np.ndarray:
    """Decode packed unsigned varints, vectorised."""
    b = np.frombuffer(data, dtype=np.uint8)
    if len(b) == 0:
        return np.zeros(0, dtype=np.uint64)
    last = b < 0x80
    start = np.flatnonzero(np.r_[True, last[:-1]])
    group = np.cumsum(np.r_[0, last[:-1]])
    shift = (np.arange(len(b)) - start[group]) * 7
    vals = (b & 0x7F).astype(np.uint64) << shift.astype(np.uint64)
    return np.add.reduceat(vals, start)


def _zigzag(v: np.ndarray) -> np.ndarray:
    return (v >> np.uint64(1)).astype(np.int64) ^ -(v & np.uint64(1)).astype(np.int64)


def _blobs(path: Path, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    """Yield the decompressed ``OSMData`` blobs of the file."""
    with path.open("rb") as f:
        while head := f.read(4):
            if len(head) < 4:
                raise UnsupportedPBF("truncated blob header length")
            header = f.read(int.from_bytes(head, "big"))
            kind, size = b"", 0
            for number, _, a, b in _fields(header):
                if number == 1:
                    kind = header[a:b]
                elif number == 3:
                    size = a
            blob = f.read(size)
            if len(blob) < size:
                raise UnsupportedPBF("truncated blob")
            on_bytes(4 + len(header) + size)
            if kind != b"OSMData":
                continue
            data = None
            for number, _, a, b in _fields(blob):
                if number == 1:
                    data = blob[a:b]
                elif number == 3:
                    data = zlib.decompress(blob[a:b])
                elif number in (4, 5, 6, 7):
                    raise UnsupportedPBF("LZMA/LZ4/ZSTD-compressed blobs")
            if data is not None:
                yield data


def _block_nodes(block: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids and fixed-point (1e-7 degree) lon, lat of every node of one ``PrimitiveBlock``."""
    granularity, lat_offset, lon_offset = 100, 0, 0
    groups = []
    for number, _, a, b in _fields(block):
        if number == 2:
            groups.append((a, b))
        elif number == 17:
            granularity = a
        elif number == 19:
            lat_offset = a - (1 << 64) if a >= 1 << 63 else a
        elif number == 20:
            lon_offset = a - (1 << 64) if a >= 1 << 63 else a
    ids, lons, lats = [], [], []
    for ga, gb in groups:
        for number, _, a, b in _fields(block, ga, gb):
            if number == 2:  # DenseNodes
                cols = {}
                for n2, _, a2, b2 in _fields(block, a, b):
                    if n2 in (1, 8, 9):
                        cols[n2] = np.cumsum(_zigzag(_packed_varints(block[a2:b2])))
                if 1 in cols:
                    ids.append(cols[1])
                    lats.append(cols.get(8, np.zeros(len(cols[1]), np.int64)))
                    lons.append(cols.get(9, np.zeros(len(cols[1]), np.int64)))
            elif number == 1:  # a plain Node
                node = {}
                for n2, _, v, _ in _fields(block, a, b):
                    if n2 in (1, 8, 9):
                        node[n2] = (v >> 1) ^ -(v & 1)
                ids.append(np.array([node.get(1, 0)], np.int64))
                lats.append(np.array([node.get(8, 0)], np.int64))
                lons.append(np.array([node.get(9, 0)], np.int64))
            else:
                break  # a group holds one kind of element only: ways or relations here
    if not ids:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    # Nanodegrees -> 1e-7 degrees, as libosmium stores locations.
    lon = (lon_offset + granularity * np.concatenate(lons)) // 100
    lat = (lat_offset + granularity * np.concatenate(lats)) // 100
    return np.concatenate(ids), lon, lat


def node_locations(path: str | Path, need: np.ndarray, *, on_bytes: Callable[[int], None] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the ids (sorted), fixed-point lon and lat (1e-7 degrees) of the nodes ``need``.

    Parameters
    ----------
    path
        An ``.osm.pbf`` file.
    need
        Sorted, unique node ids. Ids not in the file are left out of the result.
    on_bytes
        Called with the number of file bytes read after each blob (for a progress bar).

    Raises
    ------
    UnsupportedPBF
        For blobs compressed with anything but zlib, or a damaged file.
    """
    out_id, out_x, out_y = [], [], []
    report = on_bytes or (lambda n: None)
    try:
        for block in _blobs(Path(path), report):
            ids, lon, lat = _block_nodes(block)
            if len(ids) == 0 or len(need) == 0:
                continue
            pos = np.minimum(np.searchsorted(need, ids), len(need) - 1)
            keep = need[pos] == ids
            if keep.any():
                out_id.append(ids[keep])
                out_x.append(lon[keep])
                out_y.append(lat[keep])
    except (IndexError, zlib.error, ValueError) as exc:
        raise UnsupportedPBF(f"cannot decode the file: {exc}") from exc
    if not out_id:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    node_id = np.concatenate(out_id)
    order = np.argsort(node_id, kind="stable")
    return node_id[order], np.concatenate(out_x)[order], np.concatenate(out_y)[order]
