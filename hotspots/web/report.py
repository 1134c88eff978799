"""The strategic assessment report: a printable page and its tables as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from hotspots.assessment import assessment_period, strategic_assessment
from hotspots.periods import parse_period
from hotspots.printing import report_html
from hotspots.web.auth import audit, csrf_token
from hotspots.web.db import get_groups, get_pack, get_store

bp = Blueprint("report", __name__)


def _assessment():
    store = get_store()
    months = store.months()
    period = assessment_period(
        months, (request.args.get("from") or "").strip(), (request.args.get("to") or "").strip()
    ) or parse_period(months[-1])
    return strategic_assessment(store, get_pack(), get_groups(), period)


@bp.get("/report")
def page():
    assessment = _assessment()
    args = dict(request.args)
    links = {"all tables (zip)": url_for("report.zip_file", **args)}
    links.update(
        {
            f"{name} (CSV)": url_for("report.csv_file", table=name, **args)
            for name in assessment.tables()
        }
    )
    return report_html(
        assessment,
        links,
        targets_url=url_for("report.set_targets"),
        args=args,
        csrf_token=csrf_token(),
    )


@bp.post("/report/targets")
def set_targets():
    """Keep the analyst's Reduce/Monitor choice per row, then show the report again."""
    from hotspots.assessment import TARGETS

    store = get_store()
    changed = []
    for key, value in request.form.items():
        if key.startswith("target.") and value in TARGETS:
            store.set_report_target(key[len("target.") :], value)
            changed.append(f"{key[len('target.') :]}={value}")
    audit("report_targets", "; ".join(changed))
    args = {k: v for k, v in request.form.items() if k in ("from", "to")}
    return redirect(url_for("report.page", **args))


@bp.get("/report/<table>.csv")
def csv_file(table: str):
    assessment = _assessment()
    body = assessment.csv(table)
    audit("export", f"report table {table} ({assessment.current.label})")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=assessment-{table}.csv"},
    )


@bp.get("/report.zip")
def zip_file():
    assessment = _assessment()
    audit("export", f"report tables zip ({assessment.current.label})")
    return Response(
        assessment.zip_bytes(),
        mimetype="application/zip",
        headers={"Content-Disposition": "attachment; filename=assessment.zip"},
    )
