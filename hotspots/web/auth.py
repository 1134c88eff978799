"""Signing in and out, the sign-in gate in front of every page, CSRF tokens and area scoping.

Every request needs a signed-in user except ``/health``, the sign-in page itself and the
app's own CSS/JS (the sign-in page needs its stylesheet; none of it holds data). Which role a
page needs is decided here, per blueprint, not in each view. The session cookie is Flask's
signed cookie (HttpOnly, SameSite=Lax); it carries the user's id and a session epoch that a
password reset or a disabled account bumps, which ends every older session.

Every POST must carry this session's CSRF token, as the ``csrf_token`` form field or the
``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlparse

from flask import (
    Blueprint,
    Flask,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from hotspots.accounts import AccountError, SignInRefused, User, area_allowed
from hotspots.dashboard import QueryError
from hotspots.web.db import get_accounts, get_pack

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = {"auth.login", "api.health", "static", "assets.vendor"}
# The least role each blueprint needs; anything not named needs a signed-in viewer.
ROLE_FOR_BLUEPRINT = {
    "analyst": "analyst",
    "report": "analyst",
    "imports": "analyst",
    "admin": "admin",
}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def current_user() -> User | None:
    return g.get("user")


def client_address() -> str:
    return request.remote_addr or "unknown"


def audit(action: str, detail: str = "") -> None:
    """Record what the signed-in user did, with when and from where."""
    user = current_user()
    get_accounts().record(user.username if user else None, action, detail, client_address())


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def bad_parameter(exc: QueryError):
    """A wrong request parameter, named, as JSON: the API's callers and the workbench's script
    read ``parameter`` to point at the field."""
    return jsonify(error=str(exc), parameter=exc.parameter), 400


def refuse(status: int, message: str, title: str = "Not allowed"):
    """An answer the user can read: JSON for the API, a page for people."""
    if _wants_json():
        return jsonify(error=message), status
    return render_template("message.html", title=title, message=message), status


def _signed_in_user() -> User | None:
    user_id = session.get("uid")
    if user_id is None:
        return None
    user = get_accounts().get_by_id(user_id)
    if user is None or user.disabled or user.session_epoch != session.get("epoch"):
        session.clear()
        return None
    return user


def _local_target(target: str | None) -> str:
    """Where to go after signing in: only a path on this site, never another host."""
    if not target:
        return url_for("maps.home")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("maps.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    # A failed sign-in shows the form again with 200 (no HTTP authentication scheme is offered,
    # so 401 would be wrong); a throttled one answers 429.
    error, status = None, 200
    target = _local_target(request.values.get("next"))
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            user = get_accounts().authenticate(
                username, request.form.get("password", ""), client_address()
            )
        except SignInRefused as exc:
            user, error, status = None, str(exc), 429
        else:
            if user is None:
                error, status = "Wrong username or password.", 200
        if user is not None:
            session.clear()  # a fresh session: no fixation across the sign-in
            session.permanent = True
            session["uid"], session["epoch"] = user.id, user.session_epoch
            csrf_token()
            return redirect(target)
    return render_template("login.html", error=error, next=target), status


@bp.post("/logout")
def logout():
    audit("logout")
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Everyone may change their own password (e.g. the one an admin gave them)."""
    message, error, status = None, None, 200
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            error, status = "The new password and its confirmation differ.", 400
        else:
            try:
                user = get_accounts().change_password(
                    current_user().username,
                    request.form.get("current_password", ""),
                    new,
                    client_address(),
                )
            except AccountError as exc:
                error, status = str(exc), 400
            else:
                session["epoch"] = user.session_epoch  # this session goes on; others end
                message = "Password changed. Any other sessions of yours have ended."
    return render_template("password.html", message=message, error=error), status


def no_data_yet():
    """The answer for pages that need incidents when the store has none: what to do next."""
    user = current_user()
    if user is not None and user.has_role("analyst"):
        message = (
            "The store holds no incidents yet. Import police.uk files (a month's CSV or the zip "
            "from data.police.uk) or a local export on the Import page."
        )
    else:
        message = "The store holds no incidents yet. Ask your analyst to import some."
    if _wants_json():
        return jsonify(error=message), 404
    return render_template(
        "message.html", title="No incidents yet", message=message, import_link=True
    ), 200


class Forbidden(Exception):
    """The signed-in user may not see this."""


def area_scoped(args) -> dict:
    """Request arguments with the area narrowed to the user's own areas, if they have any.

    No area (the whole district) becomes the user's first area; an area or ward outside their
    areas raises ``Forbidden`` (an unknown name is left for the query parser to report).
    """
    scoped = args.to_dict() if hasattr(args, "to_dict") else dict(args)
    user = current_user()
    if user is None or not user.restricted:
        return scoped
    pack = get_pack()
    area = (scoped.get("area") or "").strip()
    if area.casefold() in ("", "district", pack.name.casefold()):
        scoped["area"] = user.areas[0]
    else:
        require_area(area)
    return scoped


def require_area(name: str) -> None:
    """Raise Forbidden unless the signed-in user may see the area or ward called ``name``."""
    user = current_user()
    if user is not None and not area_allowed(user, get_pack(), name):
        raise Forbidden(
            f"Your account shows {', '.join(user.areas)} only; ask an admin for access to {name}."
        )


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user

    @app.before_request
    def gate():
        if request.method in UNSAFE_METHODS and not _csrf_ok():
            return refuse(
                400,
                "This form has expired or did not come from this site. Reload the page and try again.",
            )
        g.user = _signed_in_user()
        endpoint = request.endpoint
        if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
            return None
        if g.user is None:
            if _wants_json() or request.method != "GET":
                return jsonify(error="Sign in first: this needs an account."), 401
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        needed = ROLE_FOR_BLUEPRINT.get(request.blueprint or "", "viewer")
        if not g.user.has_role(needed):
            return refuse(
                403,
                f"Your account ({g.user.role}) cannot open this page; it needs the {needed} role.",
            )
        return None

    @app.errorhandler(Forbidden)
    def forbidden(exc):
        return refuse(403, str(exc))

    @app.after_request
    def no_store(response):
        # Pages and data about incidents are personal data: no shared or back-button caches.
        if current_user() is not None and request.endpoint not in PUBLIC_ENDPOINTS:
            response.headers.setdefault("Cache-Control", "no-store")
        return response
