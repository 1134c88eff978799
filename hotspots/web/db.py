"""The store, accounts, boundary pack and category groups for the current request.

SQLite connections are kept per server thread and reused from request to request: opening two
database files for every request cost more CPU (file locks, WAL index mapping) than answering
most of them. In WAL mode each statement of a kept connection still sees the latest commit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import Flask, current_app

from hotspots.accounts import Accounts
from hotspots.boundaries import load_pack
from hotspots.ingest.categories import CategoryGroups
from hotspots.store import Store

# Per thread: the few most recently used files (a server uses two; tests use many).
_KEEP_PER_THREAD = 4
# Page cache per kept connection: map queries read little, and there is one per thread.
_READER_CACHE_KB = 32 * 1024
_local = threading.local()


def _kept(kind: type, path: str):
    kept: OrderedDict = _local.__dict__.setdefault("connections", OrderedDict())
    key = (kind.__name__, path)
    if key in kept:
        kept.move_to_end(key)
        return kept[key]
    opened = kind(path)
    opened.conn.execute(f"PRAGMA cache_size=-{_READER_CACHE_KB}")
    kept[key] = opened
    while len(kept) > _KEEP_PER_THREAD:
        _key, oldest = kept.popitem(last=False)
        oldest.close()
    return opened


def get_store() -> Store:
    return _kept(Store, current_app.config["DB_PATH"])


def get_accounts() -> Accounts:
    return _kept(Accounts, current_app.config["ACCOUNTS_PATH"])


def get_pack():
    return load_pack(current_app.config["PACK_DIR"])


def get_groups() -> CategoryGroups:
    key = current_app.config["GROUPS_PATH"]
    cache = current_app.extensions.setdefault("hotspots_groups", {})
    if key not in cache:
        cache[key] = CategoryGroups.load(key)
    return cache[key]


def _end_request(_error=None) -> None:
    # A request that failed half-way must not leave a transaction open on a kept connection.
    for opened in getattr(_local, "connections", {}).values():
        if opened.conn.in_transaction:
            opened.conn.rollback()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_end_request)
