"""The store, accounts, boundary pack and category groups for the current request."""

from __future__ import annotations

from flask import Flask, current_app, g

from hotspots.accounts import Accounts
from hotspots.boundaries import load_pack
from hotspots.ingest.categories import CategoryGroups
from hotspots.store import Store


def get_store() -> Store:
    if "store" not in g:
        g.store = Store(current_app.config["DB_PATH"])
    return g.store


def get_accounts() -> Accounts:
    if "accounts" not in g:
        g.accounts = Accounts(current_app.config["ACCOUNTS_PATH"])
    return g.accounts


def get_pack():
    return load_pack(current_app.config["PACK_DIR"])


def get_groups() -> CategoryGroups:
    key = current_app.config["GROUPS_PATH"]
    cache = current_app.extensions.setdefault("hotspots_groups", {})
    if key not in cache:
        cache[key] = CategoryGroups.load(key)
    return cache[key]


def close_store(_error=None) -> None:
    for name in ("store", "accounts"):
        opened = g.pop(name, None)
        if opened is not None:
            opened.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_store)
