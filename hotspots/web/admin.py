"""User management and the audit log, for admins."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from hotspots.accounts import ACTIONS, ROLES, AccountError
from hotspots.web.auth import audit, client_address, current_user
from hotspots.web.db import get_accounts, get_pack

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _users_page(message: str | None = None, error: str | None = None, secret=None, status=200):
    return render_template(
        "admin_users.html",
        users=get_accounts().users(),
        roles=ROLES,
        areas=[a.name for a in get_pack().areas],
        message=message,
        error=error,
        secret=secret,
    ), status


def _who() -> dict:
    return {"by": current_user().username, "client": client_address()}


def _areas_from_form() -> list[str]:
    known = {a.name for a in get_pack().areas}
    chosen = request.form.getlist("areas")
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise AccountError(f"Not neighbourhood areas of this district: {', '.join(unknown)}.")
    return chosen


@bp.get("/users")
def users():
    return _users_page()


@bp.post("/users")
def add_user():
    try:
        user, password = get_accounts().add(
            request.form.get("username", ""),
            request.form.get("role", ""),
            request.form.get("password") or None,
            _areas_from_form(),
            **_who(),
        )
    except AccountError as exc:
        return _users_page(error=str(exc), status=400)
    shown = None if request.form.get("password") else (user.username, password)
    return _users_page(message=f"Added {user.username} as {user.role}.", secret=shown)


@bp.post("/users/<username>/update")
def update_user(username: str):
    try:
        user = get_accounts().update(
            username, request.form.get("role", ""), _areas_from_form(), **_who()
        )
    except AccountError as exc:
        return _users_page(error=str(exc), status=400)
    return _users_page(message=f"{user.username} is now {user.role}.")


@bp.post("/users/<username>/disable")
def disable_user(username: str):
    disable = request.form.get("disabled", "1") == "1"
    try:
        user = get_accounts().set_disabled(username, disable, **_who())
    except AccountError as exc:
        return _users_page(error=str(exc), status=400)
    return _users_page(
        message=f"{user.username} is {'disabled and signed out' if disable else 'enabled again'}."
    )


@bp.post("/users/<username>/reset-password")
def reset_password(username: str):
    try:
        password = get_accounts().reset_password(username, **_who())
    except AccountError as exc:
        return _users_page(error=str(exc), status=400)
    return _users_page(
        message=f"New password set for {username}; their open sessions have ended.",
        secret=(username, password),
    )


def _audit_filters() -> dict:
    args = request.args
    return {
        "username": (args.get("user") or "").strip() or None,
        "action": (args.get("action") or "").strip() or None,
        "since": (args.get("since") or "").strip() or None,
    }


@bp.get("/audit")
def audit_page():
    filters = _audit_filters()
    return render_template(
        "admin_audit.html",
        lines=get_accounts().audit(**filters, limit=500),
        actions=ACTIONS,
        filters=filters,
        args=request.args,
    )


@bp.get("/audit.csv")
def audit_csv():
    filters = _audit_filters()
    body = get_accounts().audit_csv(**filters)
    audit("export", "audit log CSV" + "".join(f", {k}={v}" for k, v in filters.items() if v))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=hotspots-audit-log.csv"},
    )
