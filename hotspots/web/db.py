"""The store, boundary pack and category groups for the current request."""

from __future__ import annotations

from flask import Flask, current_app, g

from hotspots.boundaries import load_pack
from hotspots.ingest.categories import CategoryGroups
from hotspots.store import Store


def get_store() -> Store:
    if "store" not in g:
        g.store = Store(current_app.config["DB_PATH"])
    return g.store


def get_pack():
    return load_pack(current_app.config["PACK_DIR"])


def get_groups() -> CategoryGroups:
    key = current_app.config["GROUPS_PATH"]
    cache = current_app.extensions.setdefault("hotspots_groups", {})
    if key not in cache:
        cache[key] = CategoryGroups.load(key)
    return cache[key]


def close_store(_error=None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_store)
