"""Leaflet and its plugins, served by the app itself from the npm packages installed at set-up."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory, url_for

from hotspots.maps import Assets

bp = Blueprint("assets", __name__, url_prefix="/vendor")

# URL name -> folder inside node_modules whose files may be served.
PACKAGES = {
    "leaflet": "leaflet/dist",
    "markercluster": "leaflet.markercluster/dist",
}
REQUIRED = ("leaflet/dist/leaflet.js", "leaflet.markercluster/dist/leaflet.markercluster.js")


def missing_assets(folder: Path) -> list[str]:
    return [name for name in REQUIRED if not (folder / name).exists()]


@bp.get("/<package>/<path:filename>")
def vendor(package: str, filename: str):
    if package not in PACKAGES:
        abort(404)
    folder = Path(current_app.config["ASSETS_DIR"]) / PACKAGES[package]
    response = send_from_directory(folder, filename, max_age=86400)
    return response


def asset_urls() -> Assets:
    return Assets(
        leaflet_js=url_for("assets.vendor", package="leaflet", filename="leaflet.js"),
        leaflet_css=url_for("assets.vendor", package="leaflet", filename="leaflet.css"),
        markercluster_js=url_for(
            "assets.vendor", package="markercluster", filename="leaflet.markercluster.js"
        ),
        markercluster_css=url_for(
            "assets.vendor", package="markercluster", filename="MarkerCluster.css"
        ),
        markercluster_default_css=url_for(
            "assets.vendor", package="markercluster", filename="MarkerCluster.Default.css"
        ),
    )
