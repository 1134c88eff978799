"""What every hotspot method shares: parameters, the result type, grids and polygons.

A method is a module with ``NAME``, ``TITLE``, ``PARAMS`` (a :class:`ParamSpec`) and::

    detect(incidents, params, boundary, coverage=None) -> HotspotResult

``incidents`` is a GeoDataFrame of points in EPSG:27700 with at least ``occurred`` (ISO text)
and optionally ``location`` and ``weight``; ``boundary`` is a :class:`StudyArea`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

from hotspots.boundaries import BNG, BoundaryPack
from hotspots.errors import HotspotsError

DEFAULT_COVERAGE = 0.02


# -- parameters -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One tunable parameter: its bounds, unit and a line of help for forms and flags.

    A ``default`` of ``None`` means "computed from the data"; the method announces its choice.
    """

    name: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    help: str = ""
    kind: type = float
    choices: tuple[str, ...] = ()

    def convert(self, value: Any) -> Any:
        """The value as this parameter's type, checked against its bounds or choices."""
        if value is None:
            return None
        if self.choices:
            text = str(value).strip()
            if text not in self.choices:
                raise HotspotsError(
                    f"{self.name} must be one of {', '.join(self.choices)}, not '{value}'."
                )
            return text
        try:
            number = self.kind(float(value)) if self.kind is int else self.kind(value)
        except (TypeError, ValueError) as exc:
            raise HotspotsError(
                f"{self.name} must be a number{self._unit_text()}, not '{value}'."
            ) from exc
        if self.kind is int and float(value) != int(float(value)):
            raise HotspotsError(f"{self.name} must be a whole number, not '{value}'.")
        if self.minimum is not None and number < self.minimum:
            raise HotspotsError(
                f"{self.name} must be at least {self.minimum:g}{self._unit_text()}; got {value}."
            )
        if self.maximum is not None and number > self.maximum:
            raise HotspotsError(
                f"{self.name} must be at most {self.maximum:g}{self._unit_text()}; got {value}."
            )
        return number

    def _unit_text(self) -> str:
        return f" {self.unit}" if self.unit else ""


@dataclass(frozen=True)
class ParamSpec:
    """A method's parameters, in display order."""

    params: tuple[Param, ...]

    def __iter__(self):
        return iter(self.params)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def get(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise HotspotsError(
            f"Unknown parameter '{name}'. Parameters are: {', '.join(self.names())}."
        )

    def resolve(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with ``given``, converted and bounds-checked (None = compute)."""
        given = dict(given or {})
        values = {p.name: p.default for p in self.params}
        for name, value in given.items():
            values[name] = self.get(name).convert(value)
        return values


# The cell size every grid method takes; None means the default rule (see default_cell_size).
CELL_SIZE = Param(
    "cell_size",
    None,
    10,
    2000,
    "m",
    "Side of each square cell (default: shorter side of the area ÷ 50, to 25 m).",
)


# -- study area and result --------------------------------------------------------------------
@dataclass
class StudyArea:
    """Where hotspots may lie: the district or one of its areas or wards, in EPSG:27700."""

    name: str
    geometry: shapely.Geometry
    wards: gpd.GeoDataFrame  # ward_code, ward_name, area, geometry

    @property
    def area_m2(self) -> float:
        return float(self.geometry.area)

    @classmethod
    def from_pack(cls, pack: BoundaryPack, area: str | None = None) -> StudyArea:
        """The district, or a neighbourhood area or ward of it named by ``area``.

        Kept on the pack once built (a pack does not change once loaded): every map request
        asks for its area, and the union of its wards is the costly part. Treat it as read-only.
        """
        cache = pack.__dict__.setdefault("_study_areas", {})
        key = (area or "").strip().casefold()
        if key not in cache:
            cache[key] = cls._build(pack, area)
        return cache[key]

    @classmethod
    def _build(cls, pack: BoundaryPack, area: str | None) -> StudyArea:
        wards = pack.wards
        if area is None or area.strip().casefold() in ("", "district", pack.name.casefold()):
            return cls(pack.name, pack.district, wards)
        wanted = area.strip().casefold()
        by_ward = wards[
            (wards["ward_name"].str.casefold() == wanted)
            | (wards["ward_code"].str.casefold() == wanted)
        ]
        if len(by_ward):
            return cls(
                by_ward["ward_name"].iloc[0], shapely.union_all(by_ward.geometry.values), by_ward
            )
        chosen = pack.area_named(area)
        in_area = wards[wards["ward_code"].isin(chosen.ward_codes)]
        return cls(chosen.name, shapely.union_all(in_area.geometry.values), in_area)


@dataclass
class HotspotResult:
    """The one thing every method returns.

    ``surface``: grid cells (``x``, ``y`` centres, ``value``, cell polygons) in EPSG:27700, or
    None for cluster methods. ``hotspots``: ranked polygons with ``rank``, ``incidents``,
    ``area_m2``, ``density_per_km2``, ``share_of_incidents``, ``wards``, ``areas``,
    ``top_streets``. ``params``: what was used, computed defaults included, with ``method``,
    ``window`` and ``run_seconds``. ``notes``: sentences announcing computed choices.
    """

    method: str
    params: dict[str, Any]
    hotspots: gpd.GeoDataFrame
    surface: gpd.GeoDataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """The ranked hotspots without geometry, for printing."""
        columns = [
            "rank",
            "incidents",
            "share_of_incidents",
            "area_m2",
            "density_per_km2",
            "wards",
            "top_streets",
        ]
        return pd.DataFrame(self.hotspots[columns])


HOTSPOT_COLUMNS = [
    "rank",
    "incidents",
    "area_m2",
    "density_per_km2",
    "share_of_incidents",
    "wards",
    "areas",
    "top_streets",
    "geometry",
]


def check_incidents(incidents: gpd.GeoDataFrame) -> None:
    """Say in a sentence what is wrong with the input, before any work is done."""
    if not isinstance(incidents, gpd.GeoDataFrame):
        raise HotspotsError("incidents must be a GeoDataFrame of points.")
    if incidents.crs is None or not incidents.crs.equals(BNG):
        raise HotspotsError(
            f"incidents must be in EPSG:27700 (British National Grid metres), not {incidents.crs}."
        )
    if len(incidents) and not (incidents.geom_type == "Point").all():
        raise HotspotsError("incidents must be points.")


def weights_of(incidents: gpd.GeoDataFrame) -> np.ndarray:
    if "weight" in incidents.columns:
        return incidents["weight"].to_numpy(dtype=float)
    return np.ones(len(incidents))


def xy(incidents: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    return shapely.get_x(incidents.geometry.values), shapely.get_y(incidents.geometry.values)


def window_of(incidents: gpd.GeoDataFrame) -> tuple[str, str] | None:
    if "occurred" not in incidents.columns or not len(incidents):
        return None
    occurred = incidents["occurred"].astype(str)
    return occurred.min(), occurred.max()


def months_in(incidents: gpd.GeoDataFrame) -> int:
    """How many distinct months the incidents span (at least 1)."""
    if "occurred" not in incidents.columns or not len(incidents):
        return 1
    months = incidents["occurred"].astype(str).str[:7]
    first, last = months.min(), months.max()
    return max(1, (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1)


def default_cell_size(boundary: StudyArea) -> float:
    """Shorter side of the study area's bounding box ÷ 50, rounded to 25 m (at least 25 m)."""
    minx, miny, maxx, maxy = boundary.geometry.bounds
    return max(25.0, round(min(maxx - minx, maxy - miny) / 50 / 25) * 25)


def resolve_cell_params(
    spec: ParamSpec, given: dict | None, boundary: StudyArea
) -> tuple[dict, list[str]]:
    """A grid method's parameters with the cell size computed (and announced) when not given."""
    values = spec.resolve(given)
    notes = []
    if values.get("cell_size") is None:
        values["cell_size"] = default_cell_size(boundary)
        notes.append(
            f"Cell size {values['cell_size']:g} m (shorter side of {boundary.name} ÷ 50, rounded to 25 m)."
        )
    return values, notes


def above_mean(values: np.ndarray, mask: np.ndarray, k: float) -> np.ndarray:
    """The native rule of the surface methods: cells at least k × the study area's mean value."""
    mean = values[mask].mean() if mask.any() else 0.0
    return values >= max(k * mean, 1e-12)


# -- grids ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """A regular square grid in metres covering a study area; row 0 is the southern edge."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, geometry: shapely.Geometry, cell: float, margin: float = 0.0) -> Grid:
        minx, miny, maxx, maxy = geometry.bounds
        x0 = np.floor((minx - margin) / cell) * cell
        y0 = np.floor((miny - margin) / cell) * cell
        nx = int(np.ceil((maxx + margin - x0) / cell))
        ny = int(np.ceil((maxy + margin - y0) / cell))
        return cls(float(x0), float(y0), float(cell), max(nx, 1), max(ny, 1))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    def counts(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Incidents (or weights) per cell; points off the grid are dropped."""
        col = np.floor((x - self.x0) / self.cell).astype(np.int64)
        row = np.floor((y - self.y0) / self.cell).astype(np.int64)
        on = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        flat = row[on] * self.nx + col[on]
        w = None if weights is None else weights[on]
        return (
            np.bincount(flat, weights=w, minlength=self.nx * self.ny)
            .reshape(self.shape)
            .astype(float)
        )

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        cx = self.x0 + (np.arange(self.nx) + 0.5) * self.cell
        cy = self.y0 + (np.arange(self.ny) + 0.5) * self.cell
        return np.meshgrid(cx, cy)

    def inside(self, geometry: shapely.Geometry) -> np.ndarray:
        """Cells whose centre lies in ``geometry``: the cells of the study area."""
        gx, gy = self.centres()
        shapely.prepare(geometry)
        return shapely.contains_xy(geometry, gx, gy)

    def boxes(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        x = self.x0 + cols * self.cell
        y = self.y0 + rows * self.cell
        return shapely.box(x, y, x + self.cell, y + self.cell)

    def surface(self, values: np.ndarray, mask: np.ndarray) -> gpd.GeoDataFrame:
        """The study-area cells with their values, as a GeoDataFrame."""
        rows, cols = np.nonzero(mask)
        return gpd.GeoDataFrame(
            {
                "x": self.x0 + (cols + 0.5) * self.cell,
                "y": self.y0 + (rows + 0.5) * self.cell,
                "value": values[rows, cols],
            },
            geometry=self.boxes(rows, cols),
            crs=BNG,
        )


def disk_kernel(
    radius_m: float, cell: float, profile: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """A kernel sampled at cell spacing: ``profile(d / radius)`` for distances within the radius."""
    half = int(np.ceil(radius_m / cell))
    offsets = np.arange(-half, half + 1) * cell
    dx, dy = np.meshgrid(offsets, offsets)
    u = np.hypot(dx, dy) / radius_m
    kernel = np.where(u < 1, profile(np.minimum(u, 1)), 0.0)
    # A radius below half a cell reaches no neighbour: the kernel is the centre cell alone.
    return kernel if kernel.sum() > 0 else np.ones((1, 1))


def convolve_counts(counts: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """FFT convolution of cell counts with a kernel, with FFT round-off (~1e-17) set to zero.

    Without the clean-up every cell of the grid would hold a tiny positive value and be drawn.
    """
    from scipy.signal import fftconvolve

    out = fftconvolve(counts, kernel, mode="same")
    return np.where(out > 1e-9 * max(float(out.max()), 1e-300), out, 0.0)


def quartic(u: np.ndarray) -> np.ndarray:
    """The quartic (biweight) kernel profile, 0 at u = 1."""
    return (1 - u**2) ** 2


# -- selection and polygons ------------------------------------------------------------------
def select_cells(
    values: np.ndarray, mask: np.ndarray, cell_area: float, study_area_m2: float, coverage: float
) -> np.ndarray:
    """The highest-valued study cells whose total area is the coverage share (to one cell)."""
    n_cells = int(round(coverage * study_area_m2 / cell_area))
    candidates = np.flatnonzero(mask.ravel() & (values.ravel() > 0))
    order = candidates[np.argsort(-values.ravel()[candidates], kind="stable")]
    chosen = np.zeros(values.size, dtype=bool)
    chosen[order[: max(n_cells, 0)]] = True
    return chosen.reshape(values.shape)


def patches(
    selected: np.ndarray, grid: Grid, values: np.ndarray, boundary: StudyArea
) -> tuple[list, list]:
    """Contiguous selected cells (edge or corner neighbours) dissolved into polygons.

    Returns polygons and each patch's summed surface value, for ranking.
    """
    labels, n = ndimage.label(selected, structure=np.ones((3, 3)))
    polygons, scores = [], []
    if n == 0:
        return polygons, scores
    rows, cols = np.nonzero(labels)
    boxes = grid.boxes(rows, cols)
    cell_labels = labels[rows, cols]
    order = np.argsort(cell_labels, kind="stable")
    split = np.flatnonzero(np.diff(cell_labels[order])) + 1
    for group in np.split(order, split):
        shape = shapely.intersection(shapely.union_all(boxes[group]), boundary.geometry)
        if shape.is_empty:
            continue
        polygons.append(shape)
        scores.append(float(values[rows[group], cols[group]].sum()))
    return polygons, scores


def cluster_polygons(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray, buffer_m: float, boundary: StudyArea
) -> list:
    """One polygon per cluster label (>= 0): a concave hull of its points, buffered, clipped.

    Points are thinned to a lattice of half the buffer first: the outline moves by less than
    the buffer hides, and a cluster of a million points costs little more than a small one.
    """
    polygons = []
    lattice = max(buffer_m / 2, 1.0)
    for label in np.unique(labels[labels >= 0]):
        members = labels == label
        coords = np.column_stack([x[members], y[members]])
        thinned = (
            pd.unique(np.round(coords[:, 0] / lattice) + 1j * np.round(coords[:, 1] / lattice))
            * lattice
        )
        points = shapely.multipoints(np.column_stack([thinned.real, thinned.imag]))
        hull = shapely.concave_hull(points, ratio=0.5)
        shape = shapely.intersection(shapely.buffer(hull, buffer_m), boundary.geometry)
        if not shape.is_empty:
            polygons.append(shape)
    return polygons


def describe(
    polygons: list,
    incidents: gpd.GeoDataFrame,
    boundary: StudyArea,
    rank_by: list[float] | None = None,
) -> gpd.GeoDataFrame:
    """Ranked hotspot table: counts, shares, density, wards, areas and top streets per polygon.

    Ranked by ``rank_by`` (a method's own score) when given, else by incidents inside.
    """
    if not polygons:
        return gpd.GeoDataFrame({c: [] for c in HOTSPOT_COLUMNS[:-1]}, geometry=[], crs=BNG)
    shapes = np.array(polygons, dtype=object)
    weights = weights_of(incidents)
    total = float(weights.sum()) or 1.0
    tree = shapely.STRtree(incidents.geometry.values)
    hit_poly, hit_point = tree.query(shapes, predicate="intersects")
    inside_weight = np.bincount(hit_poly, weights=weights[hit_point], minlength=len(shapes))
    locations = (
        incidents["location"].fillna("").to_numpy(dtype=object) if "location" in incidents else None
    )

    ward_tree = shapely.STRtree(boundary.wards.geometry.values)
    w_poly, w_ward = ward_tree.query(shapes, predicate="intersects")
    ward_overlap = shapely.area(
        shapely.intersection(shapes[w_poly], boundary.wards.geometry.values[w_ward])
    )
    rows = []
    for i, shape in enumerate(shapes):
        area = float(shape.area)
        mine = ward_overlap[w_poly == i] > 1.0
        ward_rows = boundary.wards.iloc[w_ward[w_poly == i][mine]]
        order = np.argsort(-ward_overlap[w_poly == i][mine], kind="stable")
        ward_names = ward_rows["ward_name"].to_numpy()[order].tolist()
        area_names = list(dict.fromkeys(ward_rows["area"].to_numpy()[order].tolist()))
        streets: list[str] = []
        if locations is not None:
            names = pd.Series(locations[hit_point[hit_poly == i]])
            names = names[names != ""]
            counts = names.value_counts()
            # Most frequent first; ties alphabetically, so the briefing is stable.
            counts = counts.reset_index().sort_values(
                ["count", names.name or "index"], ascending=[False, True]
            )
            streets = counts.iloc[:3, 0].tolist()
        rows.append(
            {
                "incidents": float(inside_weight[i]),
                "area_m2": area,
                "density_per_km2": float(inside_weight[i]) / area * 1e6 if area else 0.0,
                "share_of_incidents": float(inside_weight[i]) / total,
                "wards": "; ".join(ward_names),
                "areas": "; ".join(area_names),
                "top_streets": "; ".join(streets),
                "_score": rank_by[i] if rank_by is not None else float(inside_weight[i]),
            }
        )
    table = gpd.GeoDataFrame(rows, geometry=list(shapes), crs=BNG)
    table = table.sort_values(["_score", "incidents"], ascending=False, kind="stable").reset_index(
        drop=True
    )
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    if (table["incidents"] == table["incidents"].round()).all():
        table["incidents"] = table["incidents"].astype(int)
    return table.drop(columns="_score")[HOTSPOT_COLUMNS]


def surface_result(
    method: str,
    finish: Callable[[], dict],
    grid: Grid,
    values: np.ndarray,
    mask: np.ndarray,
    incidents: gpd.GeoDataFrame,
    boundary: StudyArea,
    coverage: float | None,
    native: np.ndarray,
    notes: list[str],
) -> HotspotResult:
    """Select cells (by coverage, or the method's own rule ``native``), dissolve, describe."""
    values = np.where(mask, values, 0.0)
    if coverage is not None:
        selected = select_cells(values, mask, grid.cell**2, boundary.area_m2, coverage)
    else:
        selected = native & mask
    polygons, scores = patches(selected, grid, values, boundary)
    hotspots = describe(polygons, incidents, boundary, rank_by=scores)
    params = finish()
    params["coverage"] = coverage
    return HotspotResult(method, params, hotspots, grid.surface(values, mask), notes)


def cluster_result(method, finish, polygons, incidents, boundary, coverage, notes) -> HotspotResult:
    """Rank clusters by density; with a coverage, take the densest that fit in that share of area.

    Clusters stay whole: one too big for what is left of the area budget is passed over for
    smaller ones further down, so the covered share may fall short of the coverage.
    """
    hotspots = describe(polygons, incidents, boundary)
    hotspots = hotspots.sort_values("density_per_km2", ascending=False, kind="stable").reset_index(
        drop=True
    )
    if coverage is not None and len(hotspots):
        budget = coverage * boundary.area_m2
        keep = np.zeros(len(hotspots), dtype=bool)
        for i, area in enumerate(hotspots["area_m2"]):
            if area <= budget:
                keep[i] = True
                budget -= area
        hotspots = hotspots[keep].reset_index(drop=True)
    hotspots["rank"] = np.arange(1, len(hotspots) + 1)
    params = finish()
    params["coverage"] = coverage
    return HotspotResult(method, params, hotspots, None, notes)


def timed(method: str, params: dict, incidents: gpd.GeoDataFrame) -> Callable[[], dict]:
    """Start a clock; the returned function gives the params record with window and run time."""
    started = time.perf_counter()

    def finish() -> dict:
        record = {"method": method, **params}
        record["window"] = window_of(incidents)
        record["run_seconds"] = round(time.perf_counter() - started, 4)
        return record

    return finish
