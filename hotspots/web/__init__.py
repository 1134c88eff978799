"""The web service: a Flask application factory with one blueprint per area of the product."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify

from hotspots.config import PROJECT_ROOT, load_settings
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
        TILES=OSM_TILES,  # a tile URL template, or None for no basemap
        ASSETS_DIR=str(PROJECT_ROOT / "node_modules"),
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    if app.config["TILES"] in ("", "none", "None"):
        app.config["TILES"] = None

    from hotspots.web import analyst, api, assets, db, pages, report, security, tasking

    db.init_app(app)
    security.init_app(app)
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

    @app.errorhandler(404)
    def not_found(_error):
        return jsonify(error="Not found."), 404

    @app.errorhandler(HotspotsError)
    def user_error(error):
        return jsonify(error=str(error)), 400

    @app.errorhandler(500)
    def server_error(_error):
        # The details go to the log; the user gets a sentence, never a traceback.
        return jsonify(
            error="Something went wrong on the server. It has been logged; please try again."
        ), 500

    return app
