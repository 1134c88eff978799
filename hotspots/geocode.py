"""Place incidents in the district: ward, LSOA and neighbourhood area.

All work is vectorised (shapely 2 STRtree queries plus numpy); there is no Python loop over rows.

The boundary rule
-----------------
police.uk moves every incident to an anonymous map point, usually on a street centre line, and
streets are often ward and LSOA boundaries; the boundary files are generalised to 20 m. So a
point-in-polygon test alone puts about 2% of police.uk rows in a ward that does not even touch the
LSOA the police recorded. We therefore treat every point within ``tolerance_m`` (default 25 m) of
more than one ward as *boundary-ambiguous* and settle it deterministically:

1. If the record carries an LSOA code the pack knows, and at least one candidate ward overlaps
   that LSOA, take the candidate ward sharing the most area with that LSOA (``boundary-lsoa``).
2. Otherwise take the nearest candidate ward: the one containing the point (distance 0), else the
   closest boundary; a tie goes to the lowest ward code (``boundary-nearest``).

A point just outside the district but within the tolerance of exactly one ward is assigned to it
(``edge``); a point further than the tolerance from every ward is ``outside district``. One
exception: a point within the tolerance of the district's outer edge whose record names an LSOA
the pack does not hold (a neighbouring district's) is ``outside district``, because the police
placed it over the border. Deeper inside, the position wins over a foreign code. (A pack should
carry the LSOA vintage its data uses; police.uk used the 2011 LSOAs until 2022.)

LSOAs are settled the same way, where the preference is the recorded LSOA code itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from hotspots.boundaries import BNG, BoundaryPack

# Rule labels stored with each incident.
INSIDE = "inside"
EDGE = "edge"
BOUNDARY_LSOA = "boundary-lsoa"
BOUNDARY_NEAREST = "boundary-nearest"
OUTSIDE = "outside"

# A ward "agrees" with a recorded LSOA when it holds at least this share of the LSOA's area.
# Generalised boundaries leave slivers of a few m² between neighbours that must not count.
AGREEMENT_MIN_SHARE = 0.01

# Great Britain, generously: used to call coordinates invalid before any projection.
GB_LON = (-9.0, 2.5)
GB_LAT = (49.5, 61.5)
GB_EASTING = (0.0, 700_000.0)
GB_NORTHING = (0.0, 1_300_000.0)


@lru_cache(maxsize=4)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def lonlat_to_bng(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitude/latitude to British National Grid easting/northing (metres)."""
    x, y = _transformer("EPSG:4326", BNG).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def bng_to_lonlat(x, y) -> tuple[np.ndarray, np.ndarray]:
    """British National Grid easting/northing to WGS84 longitude/latitude."""
    lon, lat = _transformer(BNG, "EPSG:4326").transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)


def valid_lonlat(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True where lon/lat are finite, not null island, and inside Great Britain's extent."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    ok &= (lon >= GB_LON[0]) & (lon <= GB_LON[1]) & (lat >= GB_LAT[0]) & (lat <= GB_LAT[1])
    return ok


def valid_bng(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where easting/northing are finite, non-zero and on the British National Grid."""
    ok = np.isfinite(x) & np.isfinite(y)
    ok &= (x > GB_EASTING[0]) & (x < GB_EASTING[1]) & (y > GB_NORTHING[0]) & (y < GB_NORTHING[1])
    return ok


RULES = (INSIDE, EDGE, BOUNDARY_LSOA, BOUNDARY_NEAREST, OUTSIDE)
_INSIDE, _EDGE, _BOUNDARY_LSOA, _BOUNDARY_NEAREST, _OUTSIDE = range(len(RULES))


@dataclass
class Placement:
    """Where each point fell, as positions into the pack's tables (-1 for none).

    Arrays are aligned with the input points. The ``*_code`` properties give codes, with
    ``None`` where the point is outside the district.
    """

    pack: BoundaryPack
    ward_index: np.ndarray
    lsoa_index: np.ndarray
    rule_index: np.ndarray

    @property
    def inside(self) -> np.ndarray:
        return self.rule_index != _OUTSIDE

    @staticmethod
    def _lookup(values: np.ndarray, index: np.ndarray) -> np.ndarray:
        table = np.append(np.asarray(values, dtype=object), None)
        return table[np.where(index >= 0, index, len(table) - 1)]

    @property
    def ward_code(self) -> np.ndarray:
        return self._lookup(self.pack.wards["ward_code"].to_numpy(), self.ward_index)

    @property
    def lsoa_code(self) -> np.ndarray:
        return self._lookup(self.pack.lsoas["lsoa_code"].to_numpy(), self.lsoa_index)

    @property
    def area(self) -> np.ndarray:
        return self._lookup(self.pack.wards["area"].to_numpy(), self.ward_index)

    @property
    def rule(self) -> np.ndarray:
        return np.asarray(RULES, dtype=object)[self.rule_index]

    def rule_counts(self) -> dict[str, int]:
        counts = np.bincount(self.rule_index, minlength=len(RULES))
        return {RULES[i]: int(c) for i, c in enumerate(counts) if c}


class _LayerIndex:
    """A boundary layer prepared for fast point assignment at one tolerance.

    ``inner[i]`` is polygon ``i`` shrunk by the tolerance: a point inside it is more than the
    tolerance from every other polygon, so it is settled without any distance work. A raster of
    ``CELL_M`` cells labels each cell lying wholly inside some ``inner[i]``, so most points are
    settled by an array lookup. ``outer[i]`` is polygon ``i`` grown by the tolerance: a point
    inside it is a candidate for ``i``. Only points in the band between the two reach the rule.
    """

    CELL_M = 20.0

    def __init__(self, polygons: np.ndarray, tolerance_m: float):
        self.polygons = polygons
        self.inner = shapely.buffer(polygons, -tolerance_m)
        self.outer = shapely.buffer(polygons, tolerance_m)
        for geometries in (self.polygons, self.inner, self.outer):
            shapely.prepare(geometries)
        self.inner_bounds = shapely.bounds(self.inner)
        self.outer_bounds = shapely.bounds(self.outer)
        self._build_raster(tolerance_m)

    def _build_raster(self, tolerance_m: float) -> None:
        cell = self.CELL_M
        minx, miny = self.outer_bounds[:, 0].min(), self.outer_bounds[:, 1].min()
        maxx, maxy = self.outer_bounds[:, 2].max(), self.outer_bounds[:, 3].max()
        self.origin = (minx, miny)
        shape = (int((maxy - miny) // cell) + 1, int((maxx - minx) // cell) + 1)
        self.labels = np.full(shape, -1, dtype=np.int32)
        # A cell is labelled when its centre is further inside than the tolerance plus half the
        # cell's diagonal, so that every point of the cell is inside inner[i].
        margin = tolerance_m + cell * np.sqrt(2) / 2 + 0.5
        cores = shapely.buffer(self.polygons, -margin)
        shapely.prepare(cores)
        for i, core in enumerate(cores):
            if shapely.is_empty(core):
                continue
            bx0, by0, bx1, by1 = shapely.bounds(core)
            c0, c1 = int((bx0 - minx) // cell), int((bx1 - minx) // cell) + 1
            r0, r1 = int((by0 - miny) // cell), int((by1 - miny) // cell) + 1
            cx = minx + (np.arange(c0, c1) + 0.5) * cell
            cy = miny + (np.arange(r0, r1) + 0.5) * cell
            gx, gy = np.meshgrid(cx, cy)
            inside = shapely.contains_xy(core, gx, gy)
            block = self.labels[r0:r1, c0:c1]
            block[inside] = i

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Polygon index from the raster, -1 where the raster cannot say."""
        col = np.floor((x - self.origin[0]) / self.CELL_M).astype(np.int64)
        row = np.floor((y - self.origin[1]) / self.CELL_M).astype(np.int64)
        rows, cols = self.labels.shape
        on_grid = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
        found = np.full(len(x), -1, dtype=np.int64)
        found[on_grid] = self.labels[row[on_grid], col[on_grid]]
        return found


@lru_cache(maxsize=16)
def _layer_index(pack: BoundaryPack, layer: str, tolerance_m: float) -> _LayerIndex:
    frame = pack.wards if layer == "wards" else pack.lsoas
    return _LayerIndex(frame.geometry.to_numpy(), tolerance_m)


@lru_cache(maxsize=16)
def _district_inner(pack: BoundaryPack, tolerance_m: float):
    """The district shrunk by the tolerance, prepared: outside it means near the outer edge."""
    inner = shapely.buffer(pack.district, -tolerance_m)
    shapely.prepare(inner)
    return inner


def _points_in(geometry, bounds, x: np.ndarray, y: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Those of the points ``among`` that lie in ``geometry`` (bounding box first, then exact)."""
    minx, miny, maxx, maxy = bounds
    if not np.isfinite(minx):  # empty geometry (a polygon thinner than twice the tolerance)
        return among[:0]
    ax, ay = x[among], y[among]
    in_box = np.flatnonzero((ax >= minx) & (ax <= maxx) & (ay >= miny) & (ay <= maxy))
    return among[in_box[shapely.contains_xy(geometry, ax[in_box], ay[in_box])]]


def _assign(
    index: _LayerIndex, x: np.ndarray, y: np.ndarray, preference
) -> tuple[np.ndarray, np.ndarray]:
    """Pick one polygon index per point (-1 when none is within tolerance).

    ``preference(p, i)`` scores polygon ``i`` for point ``p``'s recorded hint (0 = no opinion);
    it is only consulted for points within the tolerance of several polygons, and distances are
    only computed where it leaves a tie. Returns the chosen index and each point's candidate count.
    """
    n = len(x)
    chosen = index.lookup(x, y)
    unsettled = np.flatnonzero(chosen < 0)
    for i, inner in enumerate(index.inner):
        chosen[_points_in(inner, index.inner_bounds[i], x, y, unsettled)] = i
    n_candidates = (chosen >= 0).astype(np.int64)

    band = np.flatnonzero(chosen < 0)
    pairs_p, pairs_i = [], []
    for i, outer in enumerate(index.outer):
        hit = _points_in(outer, index.outer_bounds[i], x, y, band)
        pairs_p.append(hit)
        pairs_i.append(np.full(len(hit), i, dtype=np.int64))
    point_idx = np.concatenate(pairs_p)
    poly_idx = np.concatenate(pairs_i)
    n_candidates += np.bincount(point_idx, minlength=n)

    single = n_candidates[point_idx] == 1
    chosen[point_idx[single]] = poly_idx[single]

    multi_p, multi_i = point_idx[~single], poly_idx[~single]
    if len(multi_p):
        score = preference(multi_p, multi_i) if preference is not None else np.zeros(len(multi_p))
        best = np.zeros(n)
        np.maximum.at(best, multi_p, score)
        tied = np.bincount(multi_p[score == best[multi_p]], minlength=n) > 1
        distance = np.zeros(len(multi_p))
        need = tied[multi_p]
        if need.any():
            points = shapely.points(x[multi_p[need]], y[multi_p[need]])
            distance[need] = shapely.distance(index.polygons[multi_i[need]], points)
        # Best first: highest preference, then nearest, then lowest polygon index (code order).
        order = np.lexsort((multi_i, distance, -score, multi_p))
        ordered_p = multi_p[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = ordered_p[1:] != ordered_p[:-1]
        chosen[ordered_p[first]] = multi_i[order][first]
    return chosen, n_candidates


def _lsoa_hints(pack: BoundaryPack, source_lsoa, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Position of each recorded LSOA code in the pack (-1 if unknown), and whether one was recorded."""
    if source_lsoa is None:
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
    codes, uniques = pd.factorize(pd.Series(source_lsoa), use_na_sentinel=True)
    uniques = pd.Index(uniques, dtype=object)
    known = pd.Index(pack.lsoas["lsoa_code"]).get_indexer(uniques).astype(np.int64)
    named = np.array([isinstance(u, str) and u.strip() != "" for u in uniques], dtype=bool)
    valid = codes >= 0
    hint = np.full(n, -1, dtype=np.int64)
    hint[valid] = known[codes[valid]]
    recorded = np.zeros(n, dtype=bool)
    recorded[valid] = named[codes[valid]]
    return hint, recorded


def place(
    x: np.ndarray,
    y: np.ndarray,
    pack: BoundaryPack,
    source_lsoa: np.ndarray | None = None,
    tolerance_m: float = 25.0,
) -> Placement:
    """Assign ward, LSOA and area to points given in EPSG:27700 metres.

    Parameters
    ----------
    x, y : array-like
        Eastings and northings (EPSG:27700). Must be finite.
    pack : BoundaryPack
    source_lsoa : array-like of str or None, optional
        The LSOA code each record carries (police.uk does); used to settle boundary-ambiguous
        points. Unknown codes and empty strings are ignored.
    tolerance_m : float
        Width of the boundary-ambiguity band in metres.

    Returns
    -------
    Placement
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    hint, recorded = _lsoa_hints(pack, source_lsoa, n)
    overlap = pack.ward_lsoa_overlap.to_numpy()

    def ward_preference(p, i):
        h = hint[p]
        return np.where(h >= 0, overlap[i, np.maximum(h, 0)], 0.0)

    def lsoa_preference(p, i):
        return (hint[p] == i).astype(float)

    ward_i, ward_n = _assign(_layer_index(pack, "wards", tolerance_m), x, y, ward_preference)
    lsoa_i, _ = _assign(_layer_index(pack, "lsoas", tolerance_m), x, y, lsoa_preference)

    rule = np.full(n, _OUTSIDE, dtype=np.int8)
    rule[(ward_i >= 0) & (ward_n == 1)] = _INSIDE
    multi = np.flatnonzero((ward_i >= 0) & (ward_n > 1))
    if len(multi):
        h = hint[multi]
        # The LSOA decided it only if the chosen ward overlaps the recorded LSOA.
        decided = (h >= 0) & (overlap[ward_i[multi], np.maximum(h, 0)] > 0)
        rule[multi] = np.where(decided, _BOUNDARY_LSOA, _BOUNDARY_NEAREST)
    # Near the outer edge: single-candidate points outside every ward are edge cases, and points
    # whose record names a neighbouring district's LSOA are over the border.
    near_edge = np.flatnonzero(
        (ward_i >= 0) & ~shapely.contains_xy(_district_inner(pack, tolerance_m), x, y)
    )
    if len(near_edge):
        district = pack.district
        shapely.prepare(district)
        beyond = ~shapely.contains_xy(district, x[near_edge], y[near_edge])
        rule[near_edge[beyond & (ward_n[near_edge] == 1)]] = _EDGE
        rule[near_edge[(hint[near_edge] < 0) & recorded[near_edge]]] = _OUTSIDE

    outside = rule == _OUTSIDE
    ward_i[outside] = -1
    lsoa_i[outside] = -1
    return Placement(pack, ward_i, lsoa_i, rule)


def lsoa_agreement(pack: BoundaryPack, ward_code, source_lsoa) -> tuple[int, int]:
    """How many records' wards overlap the LSOA police.uk recorded for them.

    Returns ``(agreeing, comparable)``; records without a known LSOA code are not comparable.
    A ward overlaps an LSOA when it holds at least ``AGREEMENT_MIN_SHARE`` of the LSOA's area.
    """
    overlap = pack.ward_lsoa_overlap
    share = overlap / overlap.sum(axis=0)
    wards = pd.Index(share.index).get_indexer(pd.Series(ward_code, dtype=object))
    lsoas = pd.Index(share.columns).get_indexer(pd.Series(source_lsoa, dtype=object))
    comparable = (wards >= 0) & (lsoas >= 0)
    values = share.to_numpy()[wards[comparable], lsoas[comparable]]
    return int((values >= AGREEMENT_MIN_SHARE).sum()), int(comparable.sum())
