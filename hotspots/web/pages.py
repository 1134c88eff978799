"""The map page: the neighbourhood team's front door."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for

from hotspots.dashboard import QueryError, map_view, options, parse_query
from hotspots.maps import build_map, render
from hotspots.web.assets import asset_urls
from hotspots.web.auth import area_scoped, current_user
from hotspots.web.db import get_groups, get_pack, get_store
from hotspots.web.security import with_nonce

bp = Blueprint("maps", __name__)


def query_args(query) -> dict:
    """A query as URL arguments (for the API links and the incidents layer)."""
    args = {
        "group": query.group,
        "from": query.period.start.isoformat()
        if query.period.start.day != 1
        else query.period.start.strftime("%Y-%m"),
        "to": query.period.label.split(" to ")[-1],
        "method": query.method,
        "coverage": "native" if query.coverage is None else f"{query.coverage:g}",
    }
    if query.area:
        args["area"] = query.area
    return args


@bp.get("/")
def home():
    store, pack, groups = get_store(), get_pack(), get_groups()
    choices = options(store, pack, groups)
    user = current_user()
    if user.restricted:
        choices.areas = [a for a in choices.areas if a in user.areas]
        choices.wards = sorted(
            pack.wards.loc[pack.wards["area"].isin(user.areas), "ward_name"].tolist()
        )
    try:
        query = parse_query(area_scoped(request.args), store, pack, groups)
    except QueryError as exc:
        return render_template(
            "map.html", error=str(exc), options=choices, args=request.args, view=None
        ), 400
    view = map_view(store, pack, groups, query)
    args = query_args(query)
    assets, incidents_url, tiles = (
        asset_urls(),
        url_for("api.incidents", **args),
        current_app.config["TILES"],
    )
    rendered = view.rendering(
        ("map", assets, incidents_url, tiles),
        lambda: render(build_map(view, assets, incidents_url, tiles)),
    )
    # Tasking packs are per neighbourhood area: a ward's pack is its area's.
    area = query.area
    if area and area not in choices.areas:
        area = pack.ward_area.get(
            dict(zip(pack.wards["ward_name"], pack.wards["ward_code"], strict=True)).get(area)
        )
    tasking_args = {
        "group": query.group,
        "from": args["from"],
        "to": args["to"],
        "method": query.method,
    }
    if area:
        tasking_args["area"] = area
    return render_template(
        "map.html",
        error=None,
        tasking_args=tasking_args,
        options=choices,
        args=request.args,
        query=query,
        view=view,
        map=rendered,
        map_head=with_nonce(rendered.head),
        map_body=with_nonce(rendered.body),
        api_args=args,
        tiles=current_app.config["TILES"],
    )
