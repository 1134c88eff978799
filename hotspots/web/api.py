"""JSON and GeoJSON answers, with the same filters as the map page; /health for monitoring."""

from __future__ import annotations

import io

from flask import Blueprint, Response, jsonify, request

from hotspots.dashboard import QueryError, incidents_table, map_view, parse_query, to_wgs84_geojson
from hotspots.maps import hotspot_features
from hotspots.web.auth import area_scoped, audit, current_user, refuse
from hotspots.web.db import get_groups, get_pack, get_store

bp = Blueprint("api", __name__)


@bp.errorhandler(QueryError)
def bad_parameter(exc: QueryError):
    return jsonify(error=str(exc), parameter=exc.parameter), 400


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


@bp.get("/api/hotspots")
def hotspots():
    store, pack, groups, query = _query()
    view = map_view(store, pack, groups, query)
    collection = hotspot_features(view)
    collection["properties"] = {
        "method": query.method,
        "period": query.period.label,
        "area": view.boundary.name,
        "group": query.group,
        "coverage": query.coverage,
    }
    return jsonify(collection)


@bp.get("/api/wards")
def wards():
    store, pack, groups, query = _query()
    view = map_view(store, pack, groups, query)
    table = view.wards.drop(columns="geometry")
    rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    return jsonify(
        period=query.period.label,
        previous_period=query.previous.label,
        group=query.group,
        wards=rows,
        totals=view.totals,
    )


@bp.get("/api/incidents")
def incidents():
    fmt = request.args.get("format", "geojson")
    if fmt == "csv" and not current_user().has_role("analyst"):
        return refuse(403, "Exporting incidents as CSV needs the analyst role.")
    store, pack, groups, query = _query()
    frame = incidents_table(store, pack, groups, query)
    if fmt == "csv":
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
    if fmt != "geojson":
        raise QueryError("format", "format must be geojson or csv.")
    return jsonify(
        to_wgs84_geojson(frame[["id", "occurred", "category", "location", "ward_name", "geometry"]])
    )
