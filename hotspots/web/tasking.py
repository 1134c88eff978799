"""The tasking pack: an A4 print view and a PDF, for the weekly tasking meeting."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from hotspots.dashboard import QueryError, default_period
from hotspots.errors import HotspotsError
from hotspots.periods import parse_period
from hotspots.printing import html_document, pdf_bytes
from hotspots.tasking import DEFAULT_TOP, build_pack
from hotspots.web.auth import audit, csrf_token, current_user, require_area
from hotspots.web.db import get_groups, get_pack, get_store

bp = Blueprint("tasking", __name__)


def _pack_from_request(args=None, save: bool = False):
    """The pack the arguments ask for; ``save`` records its patrol areas as issued."""
    store, pack, groups = get_store(), get_pack(), get_groups()
    args = request.args if args is None else args
    area = (args.get("area") or "").strip()
    group = (args.get("group") or "asb").strip()
    if group not in groups.keys_for(store.categories()):
        raise QueryError("group", f"group: '{group}' is not a group in the store.")
    try:
        areas = [pack.area_named(area).name] if area else None
    except HotspotsError as exc:
        raise QueryError("area", f"area: {exc} (tasking packs are per neighbourhood area)") from exc
    user = current_user()
    if areas is None and user.restricted:
        areas = list(user.areas)
    elif areas:
        require_area(areas[0])
    single = (args.get("period") or "").strip()
    start, end = (
        (single, single)
        if single
        else ((args.get("from") or "").strip(), (args.get("to") or "").strip())
    )
    try:
        period = (
            parse_period(start or end, end or None) if (start or end) else default_period(store)
        )
    except HotspotsError as exc:
        raise QueryError("period", str(exc).replace("--", "")) from exc
    try:
        top = int(args.get("top") or DEFAULT_TOP)
    except ValueError:
        raise QueryError("top", "top must be a whole number of patrol areas per area.") from None
    if not 1 <= top <= 10:
        raise QueryError("top", "top must be between 1 and 10.")
    method = (args.get("method") or "").strip() or None
    return pack, build_pack(
        store, pack, groups, group, period, areas, method=method, top=top, save=save
    )


@bp.get("/tasking")
def print_view():
    """Looking at a pack (or downloading it) records nothing; issuing it is a separate step."""
    pack, tasking = _pack_from_request()
    pdf_url = url_for("tasking.pdf", **request.args)
    store = get_store()
    shown = {(p.area, p.id) for p in tasking.patrol_areas}
    on_record = {
        (area, patrol_id)
        for area in {a for a, _ in shown}
        for patrol_id, _polygon in store.patrol_areas(tasking.group, area, tasking.period.label)
    }
    issue = {
        "url": url_for("tasking.issue"),
        "csrf_token": csrf_token(),
        "fields": dict(request.args),
        "issued": bool(shown) and shown == on_record,
    }
    return html_document(tasking, pack, pdf_url=pdf_url, issue=issue)


@bp.post("/tasking/issue")
def issue():
    """Record the pack's patrol areas as issued, so the next period's pack keeps their IDs."""
    fields = {k: v for k, v in request.form.items() if k != "csrf_token"}
    _pack, tasking = _pack_from_request(fields, save=True)
    audit(
        "tasking_issue",
        f"{tasking.group} {tasking.period.label}, {', '.join(tasking.areas)}: "
        + (", ".join(p.id for p in tasking.patrol_areas) or "no patrol areas"),
    )
    return redirect(url_for("tasking.print_view", **fields))


@bp.get("/tasking.pdf")
def pdf():
    pack, tasking = _pack_from_request()
    name = f"tasking-{'-'.join(a.split()[0] for a in tasking.areas)}-{tasking.group}-{tasking.period.label.replace(' ', '')}.pdf"
    document = pdf_bytes(tasking, pack)
    audit("export", f"{name}: {len(tasking.patrol_areas)} patrol areas")
    return Response(
        document,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
