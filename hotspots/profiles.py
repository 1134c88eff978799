"""Named hotspot settings per group, chosen by an analyst, with their history.

A profile ("ASB — default") fixes the method, parameters and coverage that the neighbourhood
maps and tasking packs use for a group. Each save is a new version recording who, when, why (a
note is required) and the back-test scores at the time; reverting saves an old version again as
the newest, so the history is never rewritten.

Which settings a map or pack uses, first found: the group's profile, the back-test
recommendation (``hotspots recommend``), else KDE with its defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hotspots.errors import HotspotsError
from hotspots.evaluate import saved_recommendation
from hotspots.methods import DEFAULT_COVERAGE, get_method
from hotspots.store import Store

FALLBACK_METHOD = "kde"


@dataclass(frozen=True)
class Profile:
    version: int
    group: str
    name: str
    method: str
    params: dict
    coverage: float | None
    note: str
    saved_by: str | None
    saved_at: str
    scores: dict | None

    @property
    def label(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}: {self.method}" + (f" ({shown})" if shown else "")


@dataclass(frozen=True)
class Settings:
    """The method settings a map or pack uses for a group, and where they came from."""

    method: str
    params: dict
    coverage: float | None
    source: str


def _from_row(row) -> Profile:
    version, group, name, method, params, coverage, note, saved_by, saved_at, scores = row
    return Profile(
        version,
        group,
        name,
        method,
        json.loads(params),
        coverage,
        note,
        saved_by,
        saved_at,
        json.loads(scores) if scores else None,
    )


_COLUMNS = "id, group_key, name, method, params, coverage, note, saved_by, saved_at, scores"


def history(store: Store, group: str) -> list[Profile]:
    """Every saved version for a group, oldest first."""
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM profiles WHERE group_key = ? ORDER BY id", (group,)
    )
    return [_from_row(r) for r in rows]


def current(store: Store, group: str) -> Profile | None:
    row = store.conn.execute(
        f"SELECT {_COLUMNS} FROM profiles WHERE group_key = ? ORDER BY id DESC LIMIT 1", (group,)
    ).fetchone()
    return _from_row(row) if row else None


def all_current(store: Store) -> list[Profile]:
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM profiles WHERE id IN (SELECT MAX(id) FROM profiles GROUP BY group_key) ORDER BY group_key"
    )
    return [_from_row(r) for r in rows]


def save(
    store: Store,
    group: str,
    name: str,
    method: str,
    params: dict | None,
    coverage: float | None,
    note: str,
    saved_by: str | None = None,
    scores: dict | None = None,
) -> Profile:
    """Save a new version of the group's profile; the parameters are checked against the method."""
    if not (note or "").strip():
        raise HotspotsError("A profile needs a note saying why it was chosen.")
    if not (name or "").strip():
        raise HotspotsError("A profile needs a name, e.g. 'ASB — default'.")
    spec = get_method(method).PARAMS
    checked = {key: spec.get(key).convert(value) for key, value in (params or {}).items()}
    if coverage is not None and not 0 < coverage <= 0.5:
        raise HotspotsError("coverage must be above 0 and at most 0.5.")
    store.conn.execute(
        "INSERT INTO profiles (group_key, name, method, params, coverage, note, saved_by, saved_at, scores)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, datetime('now'), ?)",
        (
            group,
            name.strip(),
            method,
            json.dumps(checked),
            coverage,
            note.strip(),
            saved_by,
            json.dumps(scores) if scores else None,
        ),
    )
    return current(store, group)


def revert(
    store: Store, group: str, version: int, note: str, saved_by: str | None = None
) -> Profile:
    """Make an earlier version current again (saved as a new version, with the reason)."""
    old = next((p for p in history(store, group) if p.version == version), None)
    if old is None:
        raise HotspotsError(
            f"Group '{group}' has no profile version {version}. See: hotspots profile show --group {group}."
        )
    return save(
        store,
        group,
        old.name,
        old.method,
        old.params,
        old.coverage,
        f"Reverted to version {version}: {note}",
        saved_by,
        old.scores,
    )


def settings_for(store: Store, group: str) -> Settings:
    """What a map or pack uses for ``group``: its profile, else the recommendation, else KDE."""
    profile = current(store, group)
    if profile is not None:
        return Settings(
            profile.method, dict(profile.params), profile.coverage, f"profile {profile.label}"
        )
    recommendation = saved_recommendation(store, group)
    if recommendation is not None:
        return Settings(
            recommendation.method,
            dict(recommendation.params),
            DEFAULT_COVERAGE,
            "back-test recommendation",
        )
    return Settings(FALLBACK_METHOD, {}, DEFAULT_COVERAGE, "default")
