"""Patrol tasking: the hotspots a tasking meeting sends officers to, with why, where, when and how much.

For each neighbourhood area the top N hotspots (by the group's recommended method unless one is
named, at 2% of the area) become **patrol areas**. Each gets:

* an **ID** such as ``HUC-ASB-01`` that stays the same while the hotspot persists: a patrol area
  takes the ID of the previous period's patrol area it overlaps most (issued packs are kept in the
  store; if the previous period was never issued it is worked out the same way);
* **why**: incidents this period and last, the mean of the three periods before, the share of the
  area's incidents, the categories, and a trend label:

  - ``new``: nothing in the previous period and a three-period mean below one;
  - ``intensifying``: this period above 1.25 × the three-period mean;
  - ``diminishing``: this period below 0.75 × the three-period mean;
  - ``persistent``: otherwise;

* **where**: polygon, centroid, wards, top streets, OS grid reference and lat/lon;
* **when**: for timed data an hour × weekday table and its peak two-hour windows; for month-only
  data (police.uk) the monthly trend and a plain note that the source gives no times;
* **dosage**: short visible visits (15 minutes by default, the Koper curve), 3 a day for the first
  priority, 2 for the second and 1 for the rest, at unpredictable times within the peak windows,
  and the officer-minutes per week they add up to;
* **tactics** from ``hotspots/tactics.toml``.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.boundaries import BoundaryPack
from hotspots.config import PACKAGE_DIR
from hotspots.errors import HotspotsError
from hotspots.geocode import bng_to_lonlat
from hotspots.ingest.categories import CategoryGroups
from hotspots.methods import DEFAULT_COVERAGE, StudyArea, get_method
from hotspots.periods import Period, shift
from hotspots.profiles import settings_for
from hotspots.store import Store

DEFAULT_TOP = 3
DEFAULT_VISIT_MINUTES = 15
TACTICS_FILE = PACKAGE_DIR / "tactics.toml"
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
GROUP_CODES = {"asb": "ASB", "violence": "VIO"}


@dataclass
class PatrolArea:
    id: str
    area: str
    priority: int
    polygon: shapely.Geometry  # EPSG:27700
    incidents: int
    previous: int
    average_3: float
    trend: str
    share_of_area: float
    categories: dict[str, int]
    wards: list[str]
    top_streets: list[str]
    grid_reference: str
    lat: float
    lon: float
    hour_weekday: np.ndarray | None  # 7 × 24 counts, Monday first; None for month-only data
    peak_windows: list[str]
    monthly: list[tuple[str, int | None]]  # month, incidents (None: no data that month)
    when_note: str
    visit_minutes: int
    visits_per_day: int
    officer_minutes_per_week: int
    tactics: list[str]
    points: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 2)))  # BNG x, y
    street_points: list[tuple[str, float, float]] = field(default_factory=list)  # label positions

    @property
    def centroid(self) -> shapely.Point:
        return self.polygon.representative_point()


@dataclass
class TaskingPack:
    group: str
    group_label: str
    period: Period
    method: str
    params: dict
    areas: list[str]
    patrol_areas: list[PatrolArea]
    totals: dict[str, int]  # incidents per neighbourhood area in the period
    timed: bool
    generated_at: str
    notes: list[str]

    @property
    def patrol_minutes_per_week(self) -> int:
        return sum(p.officer_minutes_per_week for p in self.patrol_areas)


# -- small helpers ----------------------------------------------------------------------------
def grid_reference(x: float, y: float) -> str:
    """An Ordnance Survey grid reference to 1 m: two letters and 5 + 5 digits (SK 53045 49870)."""
    e100k, n100k = int(x // 100_000), int(y // 100_000)
    if not (0 <= e100k < 7 and 0 <= n100k < 13):
        raise HotspotsError("The point is outside the British National Grid.")
    letters = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # no I
    first = (19 - n100k) - (19 - n100k) % 5 + (e100k + 10) // 5
    second = ((19 - n100k) * 5) % 25 + e100k % 5
    return f"{letters[first]}{letters[second]} {int(x % 100_000):05d} {int(y % 100_000):05d}"


def trend_label(now: int, previous: int, average: float) -> str:
    if previous == 0 and average < 1:
        return "new"
    if now > 1.25 * average:
        return "intensifying"
    if now < 0.75 * average:
        return "diminishing"
    return "persistent"


def load_tactics(group: str) -> list[str]:
    tactics = tomllib.loads(TACTICS_FILE.read_text(encoding="utf-8")).get("tactics", {})
    return list(tactics.get(group, tactics.get("default", [])))


def group_code(group: str) -> str:
    return GROUP_CODES.get(group, "".join(ch for ch in group.upper() if ch.isalnum())[:3] or "GRP")


def peak_windows(grid: np.ndarray, windows: int = 3, hours: int = 2) -> list[str]:
    """The busiest ``hours``-long windows in an hour × weekday table (windows wrap past midnight)."""
    flat = np.concatenate(grid)  # Monday 00:00 … Sunday 23:00
    rolled = sum(np.roll(flat, -k) for k in range(hours))
    order = np.argsort(-rolled, kind="stable")
    chosen: list[int] = []
    for start in order:
        if rolled[start] <= 0 or len(chosen) == windows:
            break
        if all(min((start - c) % len(flat), (c - start) % len(flat)) >= hours for c in chosen):
            chosen.append(int(start))
    out = []
    for start in chosen:
        day, hour = divmod(start, 24)
        end_hour = (hour + hours) % 24
        out.append(
            f"{WEEKDAYS[day]} {hour:02d}:00–{end_hour:02d}:00 ({int(rolled[start])} incidents)"
        )
    return out


# -- building a pack -----------------------------------------------------------------------------
def _incidents(store, categories, period, wards):
    return store.incidents(
        period, categories, wards, columns=["id", "occurred", "category", "location", "ward_code"]
    )


def _inside(polygon, frame: gpd.GeoDataFrame) -> np.ndarray:
    if not len(frame):
        return np.zeros(0, dtype=bool)
    shapely.prepare(polygon)
    return shapely.contains_xy(polygon, frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())


def _hotspots_for_area(store, pack, groups, group, period, area_name, method, params, top):
    categories = groups.categories_in(group, store.categories())
    boundary = StudyArea.from_pack(pack, area_name)
    wards = list(boundary.wards["ward_code"])
    incidents = _incidents(store, categories, period, wards)
    result = get_method(method).detect(incidents, params, boundary, DEFAULT_COVERAGE)
    return boundary, incidents, result.hotspots.iloc[:top]


def _match_ids(
    polygons: list, area_code: str, code: str, previous: list[tuple[str, shapely.Geometry]]
) -> list[str]:
    """Reuse the ID of the previous patrol area each polygon overlaps most; new numbers otherwise."""
    taken: set[str] = set()
    ids: list[str | None] = []
    for polygon in polygons:
        best, best_overlap = None, 0.0
        for pid, old in previous:
            if pid in taken:
                continue
            overlap = polygon.intersection(old).area
            if overlap > best_overlap:
                best, best_overlap = pid, overlap
        if best is not None:
            taken.add(best)
        ids.append(best)
    used = {int(p.rsplit("-", 1)[1]) for p, _ in previous} | {
        int(i.rsplit("-", 1)[1]) for i in ids if i
    }
    number = 1
    out = []
    for pid in ids:
        if pid is None:
            while number in used:
                number += 1
            used.add(number)
            pid = f"{area_code}-{code}-{number:02d}"
        out.append(pid)
    return out


def _previous_patrol_areas(store, pack, groups, group, period, area, method, params, top):
    """The previous period's patrol areas: as issued (kept in the store), else worked out."""
    before = shift(period, -1)
    issued = store.patrol_areas(group, area.name, before.label)
    if issued:
        return [(pid, shapely.from_wkb(wkb)) for pid, wkb in issued]
    if not set(before.months) <= set(store.months()):
        return []
    _boundary, _incidents_before, hotspots = _hotspots_for_area(
        store, pack, groups, group, before, area.name, method, params, top
    )
    code = group_code(group)
    return [(f"{area.code}-{code}-{i + 1:02d}", poly) for i, poly in enumerate(hotspots.geometry)]


def build_pack(
    store: Store,
    pack: BoundaryPack,
    groups: CategoryGroups,
    group: str,
    period: Period,
    areas: list[str] | None = None,
    method: str | None = None,
    params: dict | None = None,
    top: int = DEFAULT_TOP,
    visit_minutes: int = DEFAULT_VISIT_MINUTES,
    save: bool = True,
) -> TaskingPack:
    """The tasking pack for ``group`` in ``period`` for the given neighbourhood areas (default all)."""
    categories = groups.categories_in(group, store.categories())
    if not categories:
        raise HotspotsError(f"No incidents in the store belong to group '{group}'.")
    chosen_areas = [pack.area_named(a) for a in areas] if areas else list(pack.areas)
    if method is None:
        chosen = settings_for(store, group)
        method, params = chosen.method, chosen.params
    params = dict(params or {})
    have = set(store.months())
    notes = []
    missing = [m for m in period.months if m not in have]
    if missing:
        notes.append(f"No data for {', '.join(missing)}: counts for this period are incomplete.")

    patrol_areas: list[PatrolArea] = []
    totals: dict[str, int] = {}
    timed_overall = False
    code = group_code(group)
    tactics = load_tactics(group)
    for area in chosen_areas:
        boundary, incidents, hotspots = _hotspots_for_area(
            store, pack, groups, group, period, area.name, method, params, top
        )
        totals[area.name] = len(incidents)
        if not len(hotspots):
            notes.append(f"No hotspots in {area.name} for {period.label}.")
            continue
        previous_areas = _previous_patrol_areas(
            store, pack, groups, group, period, area, method, params, top
        )
        ids = _match_ids(list(hotspots.geometry), area.code, code, previous_areas)
        wards = list(boundary.wards["ward_code"])
        before_periods = [shift(period, -k) for k in (1, 2, 3)]
        before = [_incidents(store, categories, p, wards) for p in before_periods]
        complete = [set(p.months) <= have for p in before_periods]
        history = [
            (p, _incidents(store, categories, p, wards))
            for p in (shift(period, -k) for k in range(5, -1, -1))
        ]
        timed = (incidents["occurred"].str.len() > 10).mean() >= 0.5 if len(incidents) else False
        timed_overall |= bool(timed)
        for priority, (pid, (_, row)) in enumerate(
            zip(ids, hotspots.iterrows(), strict=True), start=1
        ):
            polygon = row.geometry
            inside = _inside(polygon, incidents)
            here = incidents[inside]
            counts_before = [int(_inside(polygon, b).sum()) for b in before]
            # The three-period mean counts only periods that have data.
            available = [c for c, ok in zip(counts_before, complete, strict=True) if ok]
            average = float(np.mean(available)) if available else 0.0
            centre = polygon.representative_point()
            lon, lat = bng_to_lonlat([centre.x], [centre.y])
            streets = here["location"].fillna("").replace("", np.nan).dropna()
            street_counts = streets.value_counts()
            street_counts = street_counts.reset_index().sort_values(
                ["count", "location"], ascending=[False, True]
            )
            top_streets = street_counts["location"].iloc[:3].tolist()
            street_points = []
            for name in top_streets:
                chosen = here[here["location"] == name]
                street_points.append(
                    (name, float(chosen.geometry.x.mean()), float(chosen.geometry.y.mean()))
                )
            monthly = []
            for p, frame in history:
                month_have = set(p.months) <= have
                monthly.append(
                    (p.label, int(_inside(polygon, frame).sum()) if month_have else None)
                )
            if timed:
                stamps = pd.to_datetime(
                    here["occurred"][here["occurred"].str.len() > 10], format="ISO8601"
                )
                grid = np.zeros((7, 24), dtype=int)
                np.add.at(grid, (stamps.dt.day_of_week.to_numpy(), stamps.dt.hour.to_numpy()), 1)
                peaks = peak_windows(grid)
                when_note = "Peak two-hour windows from the recorded times."
            else:
                grid, peaks = None, []
                when_note = (
                    "The source (police.uk) gives only the month of each incident, not the day or time: "
                    "vary patrol times across the day and evening."
                )
            visits = 3 if priority == 1 else 2 if priority == 2 else 1
            patrol_areas.append(
                PatrolArea(
                    id=pid,
                    area=area.name,
                    priority=priority,
                    polygon=polygon,
                    incidents=int(inside.sum()),
                    previous=counts_before[0],
                    average_3=round(average, 1),
                    trend=trend_label(int(inside.sum()), counts_before[0], average),
                    share_of_area=float(inside.sum()) / len(incidents) if len(incidents) else 0.0,
                    categories={str(k): int(v) for k, v in here["category"].value_counts().items()},
                    wards=[w for w in row["wards"].split("; ") if w],
                    top_streets=top_streets,
                    grid_reference=grid_reference(centre.x, centre.y),
                    lat=round(float(lat[0]), 5),
                    lon=round(float(lon[0]), 5),
                    hour_weekday=grid,
                    peak_windows=peaks,
                    monthly=monthly,
                    when_note=when_note,
                    visit_minutes=visit_minutes,
                    visits_per_day=visits,
                    officer_minutes_per_week=visits * 7 * visit_minutes,
                    tactics=tactics,
                    points=np.column_stack(
                        [here.geometry.x.to_numpy(), here.geometry.y.to_numpy()]
                    ),
                    street_points=street_points,
                )
            )
        if save:
            store.save_patrol_areas(
                group,
                area.name,
                period.label,
                [(p.id, shapely.to_wkb(p.polygon)) for p in patrol_areas if p.area == area.name],
            )
    return TaskingPack(
        group=group,
        group_label=groups.label(group),
        period=period,
        method=method,
        params=params,
        areas=[a.name for a in chosen_areas],
        patrol_areas=patrol_areas,
        totals=totals,
        timed=timed_overall,
        generated_at=dt.datetime.now().strftime("%d %B %Y %H:%M"),
        notes=notes,
    )


def pack_summary(pack: TaskingPack) -> str:
    """A JSON summary (IDs, counts, streets) for logs and tests."""
    return json.dumps(
        [
            {"id": p.id, "incidents": p.incidents, "trend": p.trend, "streets": p.top_streets}
            for p in pack.patrol_areas
        ]
    )
