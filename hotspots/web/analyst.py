"""The analyst's workbench: tune a method against back-test scores, compare, save a profile."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from hotspots import profiles
from hotspots.dashboard import QueryError, options, parse_query, to_wgs84_geojson
from hotspots.errors import HotspotsError
from hotspots.web.auth import audit, bad_parameter, current_user
from hotspots.web.db import get_groups, get_pack, get_store
from hotspots.workbench import compare, parameter_forms, preview

bp = Blueprint("analyst", __name__)


bp.register_error_handler(QueryError, bad_parameter)


def _page_data(message: str | None = None, error: str | None = None):
    store, pack, groups = get_store(), get_pack(), get_groups()
    choices = options(store, pack, groups)
    query = parse_query(request.args, store, pack, groups)
    wards = to_wgs84_geojson(pack.wards[["ward_name", "geometry"]])
    data = {
        "forms": parameter_forms(),
        "method": query.method,
        "params": dict(query.params),
        "wards": wards,
        "previewUrl": url_for("analyst.preview_api"),
        "compareUrl": url_for("analyst.compare_page"),
    }
    current = {g: profiles.current(store, g) for g, _ in choices.groups}
    versions = list(reversed(profiles.history(store, query.group)))
    return render_template(
        "analyst.html",
        options=choices,
        query=query,
        data=json.dumps(data),
        current=current,
        versions=versions,
        message=message,
        error=error,
    )


@bp.get("/analyst")
def page():
    return _page_data(message=request.args.get("saved"))


@bp.get("/api/analyst/preview")
def preview_api():
    store, pack, groups = get_store(), get_pack(), get_groups()
    return jsonify(preview(store, pack, groups, parse_query(request.args, store, pack, groups)))


@bp.get("/analyst/compare")
def compare_page():
    store, pack, groups = get_store(), get_pack(), get_groups()
    configs = request.args.getlist("c")
    queries = []
    for text in configs:
        args = {k: v[-1] for k, v in parse_qs(text).items()}
        queries.append(parse_query(args, store, pack, groups))
    try:
        results = compare(store, pack, groups, queries)
    except HotspotsError as exc:
        return jsonify(error=str(exc), parameter="c"), 400
    data = {"results": results, "wards": to_wgs84_geojson(pack.wards[["ward_name", "geometry"]])}
    return render_template(
        "analyst_compare.html", results=results, configs=configs, data=json.dumps(data)
    )


@bp.post("/analyst/profile")
def save_profile():
    store, pack, groups = get_store(), get_pack(), get_groups()
    form = request.form
    query = parse_query(form, store, pack, groups)
    try:
        saved = profiles.save(
            store,
            query.group,
            form.get("name", ""),
            query.method,
            dict(query.params),
            query.coverage,
            form.get("note", ""),
            saved_by=current_user().username,
            scores=(preview(store, pack, groups, query).get("scores") or {}).get("mean"),
        )
    except HotspotsError as exc:
        return jsonify(error=str(exc), parameter="note" if "note" in str(exc) else "name"), 400
    audit("profile_save", f"{query.group} version {saved.version}: {saved.label}")
    return redirect(
        url_for(
            "analyst.page", group=query.group, saved=f"Saved version {saved.version}: {saved.label}"
        )
    )


@bp.post("/analyst/profile/revert")
def revert_profile():
    store = get_store()
    group = request.form.get("group", "")
    try:
        version = int(request.form.get("version", ""))
        saved = profiles.revert(
            store,
            group,
            version,
            request.form.get("note", "").strip() or "reverted from the workbench",
            current_user().username,
        )
    except (ValueError, HotspotsError) as exc:
        return jsonify(error=str(exc), parameter="version"), 400
    audit("profile_revert", f"{group} version {version} made current as version {saved.version}")
    return redirect(
        url_for(
            "analyst.page",
            group=group,
            saved=f"Version {version} is current again (as version {saved.version})",
        )
    )
