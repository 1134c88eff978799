"""JSON and GeoJSON answers, with the same filters as the map page; /health for monitoring."""

from __future__ import annotations

import io
import json

from flask import Blueprint, Response, jsonify, request

from hotspots.dashboard import (
    QueryError,
    incidents_table,
    map_view,
    parse_query,
    to_wgs84_geojson,
)
from hotspots.maps import hotspot_features
from hotspots.web.auth import area_scoped, audit, bad_parameter, current_user, refuse
from hotspots.web.db import get_groups, get_pack, get_store

bp = Blueprint("api", __name__)


bp.register_error_handler(QueryError, bad_parameter)


def _query():
    store, pack, groups = get_store(), get_pack(), get_groups()
    return store, pack, groups, parse_query(area_scoped(request.args), store, pack, groups)


@bp.get("/health")
def health():
    try:
        store = get_store()
        months = store.months()
        return jsonify(
            status="ok",
            store="reachable",
            incidents=store.count(),
            latest_period=months[-1] if months else None,
        )
    except Exception as exc:  # noqa: BLE001 - health must answer, whatever broke
        return jsonify(status="error", store="unreachable", detail=type(exc).__name__), 503


def _answer(view, name: str, build) -> Response:
    """A JSON answer made once per map view (views are cached until the store changes)."""
    body = view.rendering(name, lambda: json.dumps(build(), separators=(",", ":")))
    return Response(body, mimetype="application/json")


@bp.get("/api/hotspots")
def hotspots():
    store, pack, groups, query = _query()
    view = map_view(store, pack, groups, query)

    def build():
        collection = hotspot_features(view)
        collection["properties"] = {
            "method": query.method,
            "period": query.period.label,
            "area": view.boundary.name,
            "group": query.group,
            "coverage": query.coverage,
        }
        return collection

    return _answer(view, "api.hotspots", build)


@bp.get("/api/wards")
def wards():
    store, pack, groups, query = _query()
    view = map_view(store, pack, groups, query)

    def build():
        table = view.wards.drop(columns="geometry")
        rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        return {
            "period": query.period.label,
            "previous_period": query.previous.label,
            "group": query.group,
            "wards": rows,
            "totals": view.totals,
        }

    return _answer(view, "api.wards", build)


@bp.get("/api/incidents")
def incidents():
    fmt = request.args.get("format", "geojson")
    if fmt not in ("geojson", "csv"):
        raise QueryError("format", "format must be geojson or csv.")
    if fmt == "csv" and not current_user().has_role("analyst"):
        return refuse(403, "Exporting incidents as CSV needs the analyst role.")
    store, pack, groups, query = _query()
    if fmt == "geojson":  # the map's incidents layer: the same for everyone looking at this map
        view = map_view(store, pack, groups, query)
        return _answer(
            view,
            "api.incidents",
            lambda: to_wgs84_geojson(
                incidents_table(store, pack, groups, query)[
                    ["id", "occurred", "category", "location", "ward_name", "geometry"]
                ]
            ),
        )
    frame = incidents_table(store, pack, groups, query)
    buffer = io.StringIO()
    lon_lat = frame.to_crs("EPSG:4326")
    out = frame.drop(columns="geometry").assign(
        lon=lon_lat.geometry.x.round(6), lat=lon_lat.geometry.y.round(6)
    )
    out.to_csv(buffer, index=False)
    name = f"incidents-{query.group}-{query.period.label.replace(' ', '')}.csv"
    audit("export", f"{name}: {len(out):,} incidents, {query.area or 'whole district'}")
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
