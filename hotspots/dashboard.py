"""What a neighbourhood map shows, computed without any web framework.

A :class:`MapQuery` (area, group, period, method, coverage) is read from plain key/value
arguments, with a :class:`QueryError` naming any bad one. :func:`map_view` then gathers the
hotspots, the ward figures and the period totals, each compared with the previous period of
the same length. Views are cached per store version, so a repeated request is served warm.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import shapely

from hotspots.boundaries import BoundaryPack
from hotspots.errors import HotspotsError
from hotspots.evaluate import periods_unit
from hotspots.ingest.categories import CategoryGroups
from hotspots.methods import DEFAULT_COVERAGE, REGISTRY, HotspotResult, StudyArea, get_method
from hotspots.periods import Period, parse_period, shift
from hotspots.profiles import settings_for
from hotspots.store import Store


class QueryError(HotspotsError):
    """A request parameter is wrong; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class MapQuery:
    area: str | None  # None: the whole district; else a neighbourhood area or ward name
    group: str
    period: Period
    method: str
    params: tuple[tuple[str, object], ...]
    coverage: float | None

    @property
    def previous(self) -> Period:
        """The period of the same length just before this one (whole months stay months)."""
        return shift(self.period, -1)


def default_period(store: Store) -> Period:
    """The latest complete period in the store: its latest month, or latest whole ISO week."""
    return per_store_version(store, "default_period", lambda: _default_period(store))


def _default_period(store: Store) -> Period:
    months = store.months()
    if not months:
        raise HotspotsError("The store holds no incidents yet.")
    if periods_unit(store) == "month":
        return parse_period(months[-1])
    latest = store.conn.execute("SELECT MAX(substr(occurred, 1, 10)) FROM incidents").fetchone()[0]
    last_day = dt.date.fromisoformat(latest)
    # The week ending on the latest Sunday that has passed in the data.
    sunday = last_day - dt.timedelta(days=(last_day.weekday() + 1) % 7)
    monday = sunday - dt.timedelta(days=6)
    return Period(monday, sunday + dt.timedelta(days=1))


@dataclass
class Options:
    """What the map form offers."""

    areas: list[str]
    wards: list[str]
    groups: list[tuple[str, str]]  # key, label
    months: list[str]
    weeks: list[str]
    methods: list[tuple[str, str]]  # name, title
    default_period: Period


def options(store: Store, pack: BoundaryPack, groups: CategoryGroups) -> Options:
    """What the map form offers (a fresh copy: the caller may narrow it, e.g. to a user's areas)."""
    cached = per_store_version(
        store, ("options", id(pack), id(groups)), lambda: _options(store, pack, groups)
    )
    return replace(cached)


def _options(store: Store, pack: BoundaryPack, groups: CategoryGroups) -> Options:
    categories = store.categories()
    unit = periods_unit(store)
    months = store.months()
    weeks: list[str] = []
    if unit == "week" and months:
        first = dt.date.fromisoformat(months[0] + "-01")
        last = default_period(store).start
        monday = first - dt.timedelta(days=first.weekday())
        while monday <= last:
            year, week, _ = monday.isocalendar()
            weeks.append(f"{year}-W{week:02d}")
            monday += dt.timedelta(days=7)
    return Options(
        areas=[a.name for a in pack.areas],
        wards=sorted(pack.wards["ward_name"]),
        groups=[(key, groups.label(key)) for key in groups.keys_for(categories)],
        months=months,
        weeks=weeks,
        methods=[(name, module.TITLE) for name, module in REGISTRY.items()],
        default_period=default_period(store),
    )


def parse_query(
    args: Mapping[str, str], store: Store, pack: BoundaryPack, groups: CategoryGroups
) -> MapQuery:
    """A MapQuery from request arguments; QueryError names the first bad one."""
    area = (args.get("area") or "").strip()
    if area.casefold() in ("", "district", pack.name.casefold()):
        area_name = None
    else:
        try:
            area_name = StudyArea.from_pack(pack, area).name
        except HotspotsError as exc:
            raise QueryError("area", f"area: {exc}") from exc

    known = groups.keys_for(store.categories())
    group = (args.get("group") or "").strip() or (
        "asb" if "asb" in known else (known[0] if known else "")
    )
    if group not in known:
        raise QueryError(
            "group", f"group: '{group}' is not a group in the store. Groups: {', '.join(known)}."
        )

    start, end = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    single = (args.get("period") or "").strip()
    if single and single != "custom":
        start = end = single
    if start or end:
        try:
            period = parse_period(start or end, end or None)
        except HotspotsError as exc:
            raise QueryError("from" if start else "to", str(exc).replace("--", "")) from exc
    else:
        period = default_period(store)

    chosen = settings_for(store, group)
    method = (args.get("method") or "").strip() or chosen.method
    if method not in REGISTRY:
        raise QueryError(
            "method", f"method: '{method}' is not a method. Methods: {', '.join(REGISTRY)}."
        )
    params = dict(chosen.params) if chosen.method == method else {}
    # The analyst's form sends parameters as param.<name>=value; blanks keep the default.
    given = {
        k[len("param.") :]: v for k, v in args.items() if k.startswith("param.") and str(v).strip()
    }
    spec = get_method(method).PARAMS
    for name, value in given.items():
        try:
            params[name] = spec.get(name).convert(value)
        except HotspotsError as exc:
            raise QueryError(f"param.{name}", str(exc)) from exc

    coverage_text = (args.get("coverage") or "").strip()
    coverage: float | None = chosen.coverage if chosen.method == method else DEFAULT_COVERAGE
    if coverage_text.casefold() == "native":
        coverage = None
    elif coverage_text:
        try:
            coverage = float(coverage_text)
        except ValueError:
            raise QueryError(
                "coverage", f"coverage: '{coverage_text}' is not a number such as 0.02."
            ) from None
        if not 0 < coverage <= 0.5:
            raise QueryError(
                "coverage", "coverage must be above 0 and at most 0.5 (half the area)."
            )
    return MapQuery(area_name, group, period, method, tuple(sorted(params.items())), coverage)


@dataclass
class MapView:
    """Everything one map page or API answer needs."""

    query: MapQuery
    boundary: StudyArea
    result: HotspotResult
    wards: (
        gpd.GeoDataFrame
    )  # ward_code, ward_name, area, incidents, previous, change, population, rate_per_1000
    totals: dict
    incidents: int
    notes: list[str] = field(default_factory=list)
    # Renderings of this view (e.g. map HTML per tile setting), kept while the view is cached.
    renderings: dict = field(default_factory=dict, repr=False)
    rendering_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def hotspots(self) -> gpd.GeoDataFrame:
        return self.result.hotspots

    def rendering(self, key, make):
        """``make()`` (a page's map, an API answer), made once per view and key however many
        ask at once, and kept with the view."""
        with self.rendering_lock:
            if key not in self.renderings:
                with HEAVY_WORK:
                    self.renderings[key] = make()
            return self.renderings[key]


def _trend(now: int, before: int) -> str:
    if before == 0:
        return "new" if now else "none"
    change = (now - before) / before
    if change > 0.2:
        return f"up {change:.0%}"
    if change < -0.2:
        return f"down {-change:.0%}"
    return "steady"


def _change(now: int, before: int) -> str:
    if before == 0:
        return "n/a" if now == 0 else "new"
    return f"{(now - before) / before:+.0%}"


def _build(store: Store, pack: BoundaryPack, groups: CategoryGroups, query: MapQuery) -> MapView:
    categories = groups.categories_in(query.group, store.categories())
    boundary = StudyArea.from_pack(pack, query.area)
    wards = None if query.area is None else list(boundary.wards["ward_code"])
    columns = ["id", "occurred", "category", "location"]
    current = store.incidents(query.period, categories, wards, columns=columns)
    previous = store.incidents(query.previous, categories, wards, columns=columns)
    module = get_method(query.method)
    result = module.detect(current, dict(query.params), boundary, query.coverage)

    hotspots = result.hotspots
    if len(hotspots):
        tree = shapely.STRtree(previous.geometry.values) if len(previous) else None
        before = np.zeros(len(hotspots), dtype=int)
        if tree is not None:
            poly, _point = tree.query(hotspots.geometry.values, predicate="intersects")
            before = np.bincount(poly, minlength=len(hotspots))
        hotspots["previous"] = before
        hotspots["trend"] = [
            _trend(int(n), int(b)) for n, b in zip(hotspots["incidents"], before, strict=True)
        ]
    else:
        hotspots["previous"] = []
        hotspots["trend"] = []

    population = pack.ward_population(query.period.mid_year)
    now_counts = store.counts_by("ward_code", query.period, categories, wards)
    before_counts = store.counts_by("ward_code", query.previous, categories, wards)
    ward_table = boundary.wards[["ward_code", "ward_name", "area", "geometry"]].copy()
    ward_table["incidents"] = ward_table["ward_code"].map(now_counts).fillna(0).astype(int)
    ward_table["previous"] = ward_table["ward_code"].map(before_counts).fillna(0).astype(int)
    ward_table["population"] = ward_table["ward_code"].map(population).astype(float)
    ward_table["rate_per_1000"] = (ward_table["incidents"] / ward_table["population"] * 1000).round(
        2
    )
    ward_table["change"] = [
        _change(n, b) for n, b in zip(ward_table["incidents"], ward_table["previous"], strict=True)
    ]

    have = set(store.months())
    notes = list(result.notes)
    missing_before = [m for m in query.previous.months if m not in have]
    if missing_before:
        # A part-empty previous period would show rises that are not there: say so instead.
        notes.append(
            f"No data for {', '.join(missing_before)}: changes against the previous period are not shown."
        )
        hotspots["trend"] = "n/a"
        ward_table["change"] = "n/a"
    totals = {
        "incidents": int(len(current)),
        "previous": int(len(previous)),
        "change": _change(len(current), len(previous)) if not missing_before else "n/a",
        "period": query.period.label,
        "previous_period": query.previous.label,
        "previous_complete": not missing_before,
    }
    return MapView(query, boundary, result, ward_table, totals, len(current), notes)


_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
_BUILDING: dict[tuple, threading.Lock] = {}
# Building a view (or rendering one) is seconds of Python under the GIL when many are cold at
# once, as after an import. One at a time: requests for warm views are then answered between
# builds instead of queueing behind all of them; cold ones wait for their turn either way.
HEAVY_WORK = threading.Lock()
_CACHE_SIZE = 64


_FACTS: dict[tuple, object] = {}


def per_store_version(store: Store, name, compute):
    """``compute()``, remembered until the store changes (an import or a new recommendation)."""
    key = (str(store.path), store_version(store), name)
    with _CACHE_LOCK:
        if key in _FACTS:
            return _FACTS[key]
    value = compute()
    with _CACHE_LOCK:
        if len(_FACTS) > 256:
            _FACTS.clear()
        _FACTS[key] = value
    return value


def data_version(store: Store, query: MapQuery) -> tuple:
    """What a view's data depends on: the incident counts of the months it covers.

    Imports only add incidents, and every import updates the per-month counts in its own
    transaction, so these counts change exactly when the view's incidents could have. An
    import of other months leaves the view (and the maps people are looking at) warm.
    """
    first = query.previous.start.strftime("%Y-%m")
    last = (query.period.end - dt.timedelta(days=1)).strftime("%Y-%m")
    rows = store.conn.execute(
        "SELECT month, category, incidents FROM month_counts WHERE month BETWEEN ? AND ?"
        " ORDER BY month, category",
        (first, last),
    ).fetchall()
    saved = store.conn.execute("SELECT COALESCE(MAX(saved_at), '') FROM recommendations")
    return hash(tuple(rows)), saved.fetchone()[0]


def store_version(store: Store) -> tuple:
    """Changes whenever an import or a saved recommendation changes what a map would show."""
    return store.conn.execute(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM imports),"
        " (SELECT COALESCE(MAX(saved_at), '') FROM recommendations)"
    ).fetchone()


def map_view(store: Store, pack: BoundaryPack, groups: CategoryGroups, query: MapQuery) -> MapView:
    """The map view for ``query``, computed once per store version and kept warm."""
    key = (str(store.path), data_version(store, query), id(pack), id(groups), query)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        # One thread builds a view; others asking for the same one meanwhile wait for it
        # (after an import, every open map asks again at once).
        building = _BUILDING.setdefault(key, threading.Lock())
    with building:
        with _CACHE_LOCK:
            if key in _CACHE:
                return _CACHE[key]
        try:
            with HEAVY_WORK:
                view = _build(store, pack, groups, query)
        except BaseException:
            with _CACHE_LOCK:
                _BUILDING.pop(key, None)
            raise
        with _CACHE_LOCK:
            _CACHE[key] = view
            _BUILDING.pop(key, None)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return view


def incidents_table(
    store: Store, pack: BoundaryPack, groups: CategoryGroups, query: MapQuery
) -> gpd.GeoDataFrame:
    """The incidents behind a map (for the lazy incidents layer and the CSV export)."""
    categories = groups.categories_in(query.group, store.categories())
    boundary = StudyArea.from_pack(pack, query.area)
    wards = None if query.area is None else list(boundary.wards["ward_code"])
    frame = store.incidents(
        query.period,
        categories,
        wards,
        columns=["id", "occurred", "category", "location", "ward_code"],
    )
    frame["ward_name"] = frame["ward_code"].map(pack.ward_names)
    return frame


def to_wgs84_geojson(frame: gpd.GeoDataFrame, precision: int = 5) -> dict:
    """A GeoDataFrame as a GeoJSON dict in WGS84, coordinates rounded (5 decimals ≈ 1 m)."""
    if not len(frame):
        return {"type": "FeatureCollection", "features": []}
    out = frame.to_crs("EPSG:4326")
    # GEOS writes the geometries (vectorised); geopandas' per-feature path is ~5× slower here.
    geometries = shapely.to_geojson(shapely.set_precision(out.geometry.values, 10**-precision))
    table = out.drop(columns=out.geometry.name).astype(object)
    rows = table.where(table.notna(), None).to_dict(orient="records")
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": row, "geometry": json.loads(shape)}
            for row, shape in zip(rows, geometries, strict=True)
        ],
    }
