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


@dataclass
class Placement:
    """Where each point fell. Arrays are aligned with the input points.

    ``ward_code``/``lsoa_code``/``area`` are ``None`` where ``rule == "outside"``.
    """

    ward_code: np.ndarray
    lsoa_code: np.ndarray
    area: np.ndarray
    rule: np.ndarray

    @property
    def inside(self) -> np.ndarray:
        return self.rule != OUTSIDE

    def rule_counts(self) -> dict[str, int]:
        labels, counts = np.unique(self.rule, return_counts=True)
        return {str(k): int(v) for k, v in zip(labels, counts, strict=True)}


def _assign(
    polygons: np.ndarray,
    points: np.ndarray,
    tree: shapely.STRtree,
    tolerance_m: float,
    preference: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick one polygon index per point (-1 when none is within tolerance).

    ``preference[p, i]`` scores polygon ``i`` for point ``p``'s recorded hint (0 = no opinion);
    it is only consulted for points within the tolerance of several polygons. Returns the chosen
    polygon index and how many candidates each point had.
    """
    n = len(points)
    poly_idx, point_idx = tree.query(polygons, predicate="dwithin", distance=tolerance_m)
    n_candidates = np.bincount(point_idx, minlength=n)
    chosen = np.full(n, -1, dtype=np.int64)

    single = n_candidates[point_idx] == 1
    chosen[point_idx[single]] = poly_idx[single]

    multi_p, multi_i = point_idx[~single], poly_idx[~single]
    if len(multi_p):
        distance = shapely.distance(polygons[multi_i], points[multi_p])
        score = preference(multi_p, multi_i) if preference is not None else np.zeros(len(multi_p))
        # Best first: highest preference, then nearest, then lowest polygon index (code order).
        order = np.lexsort((multi_i, distance, -score, multi_p))
        ordered_p = multi_p[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = ordered_p[1:] != ordered_p[:-1]
        chosen[ordered_p[first]] = multi_i[order][first]
    return chosen, n_candidates


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
    points = shapely.points(x, y)
    tree = shapely.STRtree(points)

    lsoa_codes = pack.lsoas["lsoa_code"].to_numpy()
    hint = np.full(n, -1, dtype=np.int64)
    if source_lsoa is not None:
        position = pd.Index(lsoa_codes).get_indexer(pd.Series(source_lsoa, dtype=object).fillna(""))
        hint = position.astype(np.int64)

    overlap = pack.ward_lsoa_overlap.to_numpy()

    def ward_preference(p, i):
        h = hint[p]
        return np.where(h >= 0, overlap[i, np.maximum(h, 0)], 0.0)

    def lsoa_preference(p, i):
        return (hint[p] == i).astype(float)

    ward_polys = pack.wards.geometry.to_numpy()
    ward_i, ward_n = _assign(ward_polys, points, tree, tolerance_m, ward_preference)
    lsoa_i, _ = _assign(pack.lsoas.geometry.to_numpy(), points, tree, tolerance_m, lsoa_preference)

    assigned = ward_i >= 0
    rule = np.full(n, OUTSIDE, dtype=object)
    rule[assigned & (ward_n == 1)] = INSIDE
    # Single-candidate points outside every ward polygon are edge cases (within tolerance).
    single = np.flatnonzero(assigned & (ward_n == 1))
    if len(single):
        district = pack.district
        shapely.prepare(district)
        outside_edge = ~shapely.contains_xy(district, x[single], y[single])
        rule[single[outside_edge]] = EDGE
    multi = assigned & (ward_n > 1)
    if multi.any():
        has_opinion = np.zeros(n, dtype=bool)
        m = np.flatnonzero(multi)
        hm = hint[m]
        # Did the LSOA hint decide it? Only if the chosen ward overlaps the recorded LSOA.
        has_opinion[m] = (hm >= 0) & (overlap[ward_i[m], np.maximum(hm, 0)] > 0)
        rule[multi & has_opinion] = BOUNDARY_LSOA
        rule[multi & ~has_opinion] = BOUNDARY_NEAREST

    if source_lsoa is not None:
        recorded = (
            pd.Series(source_lsoa, dtype=object).fillna("").str.strip().to_numpy(dtype=object)
        )
        foreign = np.flatnonzero(assigned & (hint < 0) & (recorded != ""))
        if len(foreign):
            edge_distance = shapely.distance(shapely.boundary(pack.district), points[foreign])
            over_border = foreign[(edge_distance <= tolerance_m) | (rule[foreign] == EDGE)]
            assigned[over_border] = False
            rule[over_border] = OUTSIDE

    ward_codes = pack.wards["ward_code"].to_numpy()
    ward_code = np.where(assigned, ward_codes[np.maximum(ward_i, 0)], None)
    # Points inside a ward but beyond the tolerance of every LSOA cannot happen with a
    # consistent pack; if they do, fall back to no LSOA rather than a wrong one.
    lsoa_code = np.where(assigned & (lsoa_i >= 0), lsoa_codes[np.maximum(lsoa_i, 0)], None)
    area_of = pack.ward_area
    area = np.array([area_of.get(c) if c is not None else None for c in ward_codes], dtype=object)
    area = np.where(assigned, area[np.maximum(ward_i, 0)], None)
    return Placement(ward_code=ward_code, lsoa_code=lsoa_code, area=area, rule=rule)


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
