"""The web service: a Flask application factory with one blueprint per area of the product."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask, request

from hotspots.accounts import accounts_path_for
from hotspots.config import PROJECT_ROOT, load_settings, secret_key
from hotspots.errors import HotspotsError
from hotspots.maps import OSM_TILES


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app from defaults, the environment (see hotspots.config) and ``test_config``."""
    settings = load_settings()
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(settings.instance_dir.resolve()),
    )
    app.config.from_mapping(
        DB_PATH=str(settings.db_path),
        PACK_DIR=str(settings.pack_dir),
        GROUPS_PATH=str(settings.groups_path),
        TOLERANCE_M=settings.tolerance_m,
        POSTCODES_PATH=str(settings.postcodes_path),
        TILES=OSM_TILES,  # a tile URL template, or None for no basemap
        ASSETS_DIR=str(PROJECT_ROOT / "node_modules"),
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=int(settings.max_upload_mb * 1024 * 1024),
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
        SESSION_COOKIE_NAME="hotspots_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
    )
    if test_config:
        app.config.update(test_config)
    if app.config["TILES"] in ("", "none", "None"):
        app.config["TILES"] = None
    app.config.setdefault("ACCOUNTS_PATH", str(accounts_path_for(app.config["DB_PATH"])))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(settings.instance_dir)

    from hotspots.web import (
        admin,
        analyst,
        api,
        assets,
        auth,
        db,
        imports,
        pages,
        report,
        security,
        tasking,
    )

    db.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(tasking.bp)
    app.register_blueprint(report.bp)
    app.register_blueprint(analyst.bp)

    missing = assets.missing_assets(Path(app.config["ASSETS_DIR"]))
    if missing:
        app.logger.warning(
            "Front-end assets are missing (%s): run `make install`.", ", ".join(missing)
        )

    # Errors answer in a sentence: JSON for the API, a page for people; never a traceback.
    @app.errorhandler(404)
    def not_found(_error):
        return auth.refuse(404, "There is no such page here.", "Not found")

    @app.errorhandler(413)
    def too_large(_error):
        limit = app.config["MAX_CONTENT_LENGTH"] / 1024 / 1024
        return auth.refuse(
            413,
            f"That file is larger than the {limit:g} MB limit. Split it (e.g. by month) or ask "
            "an admin to raise max_upload_mb.",
            "File too large",
        )

    @app.before_request
    def needs_incidents():
        # Pages that show incidents say what to do when there are none yet.
        shows_incidents = request.blueprint in ("maps", "analyst", "report", "tasking") or (
            request.blueprint == "api" and request.endpoint != "api.health"
        )
        if shows_incidents and auth.current_user() is not None and not db.get_store().months():
            return auth.no_data_yet()
        return None

    @app.errorhandler(HotspotsError)
    def user_error(error):
        return auth.refuse(400, str(error), "That did not work")

    @app.errorhandler(500)
    def server_error(_error):
        # The details go to the log.
        return auth.refuse(
            500,
            "Something went wrong on the server. It has been logged; please try again.",
            "Something went wrong",
        )

    return app
