"""Accounts, roles and the audit log, without any web framework.

Accounts live in their own SQLite file beside the incident store (``<store>.accounts.sqlite``),
so a long import, which holds the store's write lock for a whole file, never delays a sign-in
or an audit entry, and the incident store can be rebuilt without losing who may use it.

Roles are cumulative: ``viewer`` (maps and tasking packs), ``analyst`` (adds import, the
workbench, profiles, the report and exports), ``admin`` (adds user management and the audit
log). A user may be restricted to some neighbourhood areas; an empty list means every area.

Passwords are stored as werkzeug hashes (scrypt). Sign-in throttling is read from the audit
log: after ``MAX_FAILURES`` failures for one username (or ``MAX_CLIENT_FAILURES`` from one
client) within ``LOCKOUT`` and with no success since, further tries are refused until the
window has passed.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from hotspots.errors import HotspotsError
from hotspots.store import open_database

ROLES = ("viewer", "analyst", "admin")
MIN_PASSWORD = 10
MAX_FAILURES = 5
MAX_CLIENT_FAILURES = 20
LOCKOUT = dt.timedelta(minutes=15)
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so both answers take as long."""
    return generate_password_hash("not a password of anyone's")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    areas TEXT NOT NULL DEFAULT '[]',   -- JSON list of neighbourhood areas; [] = all
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    -- Bumped when the password is reset or the account disabled: older sessions end.
    session_epoch INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,                   -- UTC, ISO 8601
    username TEXT,                      -- who (as typed, for failed sign-ins)
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    client TEXT                         -- remote address, or 'cli'
);
CREATE INDEX IF NOT EXISTS audit_username ON audit_log (username COLLATE NOCASE, at);
CREATE INDEX IF NOT EXISTS audit_client ON audit_log (client, at);
"""

# What each action in the audit log means, for the admin page's filter.
ACTIONS = {
    "login": "signed in",
    "login_failed": "sign-in failed",
    "login_refused": "sign-in refused (too many failures)",
    "logout": "signed out",
    "import": "imported a file",
    "export": "exported data",
    "profile_save": "saved a method profile",
    "profile_revert": "reverted a method profile",
    "report_targets": "set report targets",
    "tasking_issue": "issued a tasking pack",
    "user_add": "added a user",
    "user_update": "changed a user's role or areas",
    "user_disable": "disabled a user",
    "user_enable": "enabled a user",
    "user_reset_password": "reset a password",
    "password_change": "changed their own password",
    "password_change_failed": "password change refused (wrong current password)",
}


class AccountError(HotspotsError):
    """A user-management request cannot be carried out (message says why)."""


class SignInRefused(HotspotsError):
    """Too many failed sign-ins: further tries are refused for a while."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    areas: tuple[str, ...]
    disabled: bool
    created_at: str
    session_epoch: int

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def restricted(self) -> bool:
        return bool(self.areas)


def area_allowed(user: User, pack, name: str) -> bool:
    """Whether ``user`` may see the neighbourhood area or ward called ``name``.

    The whole district is allowed only to unrestricted users. A name the pack does not know is
    allowed here, so that the caller's own check can say it is unknown.
    """
    if not user.areas:
        return True
    key = name.strip().casefold()
    if key in ("", "district", pack.name.casefold()):
        return False
    for area in pack.areas:
        if area.name.casefold() == key:
            return area.name in user.areas
    wards = dict(zip(pack.wards["ward_name"].str.casefold(), pack.wards["ward_code"], strict=True))
    if key in wards:
        return pack.ward_area.get(wards[key]) in user.areas
    return True


def accounts_path_for(store_path: str | Path) -> Path:
    """The accounts file that belongs to an incident store: ``x.sqlite`` → ``x.accounts.sqlite``."""
    store_path = Path(store_path)
    return store_path.with_name(f"{store_path.stem}.accounts.sqlite")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def random_password() -> str:
    """A password a person can copy: 16 characters from the URL-safe alphabet (96 bits)."""
    return secrets.token_urlsafe(12)


def _check_areas(role: str, areas) -> list[str]:
    areas = sorted({a.strip() for a in areas if a.strip()})
    if areas and role != "viewer":
        raise AccountError(
            "Only viewers can be limited to some areas; analysts and admins work on the whole "
            "district."
        )
    return areas


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Passwords must be at least {MIN_PASSWORD} characters long.")


def _set_up_accounts(conn: sqlite3.Connection) -> None:
    # Opened on every command and sign-in check: create the schema only when it is missing.
    ready = conn.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_client'"
    ).fetchone()[0]
    if not ready:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)


class Accounts:
    """The accounts file: users and the audit log. Use as a context manager or call close()."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.conn = open_database(self.path, "accounts file", _set_up_accounts)

    @classmethod
    def for_store(cls, store_path: str | Path) -> Accounts:
        return cls(accounts_path_for(store_path))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Accounts:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- users -----------------------------------------------------------------------------
    _USER_COLUMNS = "id, username, role, areas, disabled, created_at, session_epoch"

    @staticmethod
    def _user(row) -> User:
        return User(
            id=row[0],
            username=row[1],
            role=row[2],
            areas=tuple(json.loads(row[3])),
            disabled=bool(row[4]),
            created_at=row[5],
            session_epoch=row[6],
        )

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]

    def users(self) -> list[User]:
        rows = self.conn.execute(
            f"SELECT {self._USER_COLUMNS} FROM users ORDER BY username COLLATE NOCASE"
        )
        return [self._user(r) for r in rows]

    def get(self, username: str) -> User | None:
        row = self.conn.execute(
            f"SELECT {self._USER_COLUMNS} FROM users WHERE username = ?", (username,)
        ).fetchone()
        return self._user(row) if row else None

    def get_by_id(self, user_id: int) -> User | None:
        row = self.conn.execute(
            f"SELECT {self._USER_COLUMNS} FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        return self._user(row) if row else None

    def _require(self, username: str) -> User:
        user = self.get(username)
        if user is None:
            raise AccountError(f"There is no user called '{username}'.")
        return user

    def add(
        self,
        username: str,
        role: str,
        password: str | None = None,
        areas: list[str] | tuple[str, ...] = (),
        *,
        by: str | None = None,
        client: str | None = None,
    ) -> tuple[User, str]:
        """Create a user; returns the user and the password (generated when none is given)."""
        username = username.strip()
        if not _USERNAME.match(username):
            raise AccountError(
                "Usernames are 2–64 letters, digits, dots, dashes, underscores or @, "
                "starting with a letter or digit."
            )
        if role not in ROLES:
            raise AccountError(f"Role must be one of {', '.join(ROLES)}, not '{role}'.")
        if self.get(username) is not None:
            raise AccountError(f"A user called '{username}' already exists.")
        areas = _check_areas(role, areas)
        password = password or random_password()
        _check_password(password)
        self.conn.execute(
            "INSERT INTO users (username, password_hash, role, areas, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                username,
                generate_password_hash(password),
                role,
                json.dumps(areas),
                _now().isoformat(timespec="seconds"),
            ),
        )
        detail = f"{username} as {role}" + (f", areas: {'; '.join(areas)}" if areas else "")
        self.record(by, "user_add", detail, client)
        return self._require(username), password

    def update(
        self,
        username: str,
        role: str,
        areas: list[str] | tuple[str, ...],
        *,
        by: str | None = None,
        client: str | None = None,
    ) -> User:
        user = self._require(username)
        if role not in ROLES:
            raise AccountError(f"Role must be one of {', '.join(ROLES)}, not '{role}'.")
        if user.role == "admin" and role != "admin" and self._last_admin(user):
            raise AccountError("That is the last active admin; make another admin first.")
        areas = _check_areas(role, areas)
        self.conn.execute(
            "UPDATE users SET role = ?, areas = ? WHERE id = ?",
            (role, json.dumps(areas), user.id),
        )
        detail = f"{user.username}: {role}, areas: {'; '.join(areas) or 'all'}"
        self.record(by, "user_update", detail, client)
        return self._require(username)

    def _last_admin(self, user: User) -> bool:
        others = self.conn.execute(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?",
            (user.id,),
        ).fetchone()[0]
        return others == 0

    def set_disabled(
        self, username: str, disabled: bool, *, by: str | None = None, client: str | None = None
    ) -> User:
        user = self._require(username)
        if disabled and user.role == "admin" and self._last_admin(user):
            raise AccountError("That is the last active admin; make another admin first.")
        self.conn.execute(
            "UPDATE users SET disabled = ?, session_epoch = session_epoch + 1 WHERE id = ?",
            (int(disabled), user.id),
        )
        self.record(by, "user_disable" if disabled else "user_enable", user.username, client)
        return self._require(username)

    def reset_password(
        self,
        username: str,
        password: str | None = None,
        *,
        by: str | None = None,
        client: str | None = None,
    ) -> str:
        """Set a new password (generated when none is given) and end the user's sessions."""
        user = self._require(username)
        password = password or random_password()
        _check_password(password)
        self.conn.execute(
            "UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1 WHERE id = ?",
            (generate_password_hash(password), user.id),
        )
        self.record(by, "user_reset_password", user.username, client)
        return password

    def change_password(
        self, username: str, current: str, new: str, client: str | None = None
    ) -> User:
        """A user's own change: the current password must be right; other sessions end."""
        row = self.conn.execute(
            "SELECT password_hash FROM users WHERE username = ?", (username,)
        ).fetchone()
        if row is None or not check_password_hash(row[0], current):
            self.record(username, "password_change_failed", "wrong current password", client)
            raise AccountError("The current password is not right.")
        if new == current:
            raise AccountError("The new password must differ from the current one.")
        _check_password(new)
        self.conn.execute(
            "UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1 "
            "WHERE username = ?",
            (generate_password_hash(new), username),
        )
        self.record(username, "password_change", "", client)
        return self._require(username)

    # -- signing in ------------------------------------------------------------------------
    def _recent_failures(self, column: str, value: str, since: dt.datetime) -> tuple[int, str]:
        """Failures for a username or client since ``since`` and after its last success."""
        collate = " COLLATE NOCASE" if column == "username" else ""
        last_ok = self.conn.execute(
            f"SELECT MAX(at) FROM audit_log WHERE {column} = ?{collate} AND action = 'login'",
            (value,),
        ).fetchone()[0]
        start = max(since.isoformat(timespec="seconds"), last_ok or "")
        count, latest = self.conn.execute(
            f"SELECT COUNT(*), MAX(at) FROM audit_log WHERE {column} = ?{collate} "
            "AND action = 'login_failed' AND at > ?",
            (value, start),
        ).fetchone()
        return count, latest

    def authenticate(self, username: str, password: str, client: str | None = None) -> User | None:
        """The user if the password is right; None (and a recorded failure) otherwise.

        Raises SignInRefused, without checking the password, while the username or the client
        is locked out.
        """
        username = username.strip()[:128]
        now = _now()
        for column, value, limit in (
            ("username", username, MAX_FAILURES),
            ("client", client, MAX_CLIENT_FAILURES),
        ):
            if value is None:
                continue
            count, latest = self._recent_failures(column, value, now - LOCKOUT)
            if count >= limit:
                until = dt.datetime.fromisoformat(latest) + LOCKOUT
                minutes = max(1, int((until - now).total_seconds() // 60) + 1)
                self.record(username, "login_refused", f"{count} recent failures", client)
                raise SignInRefused(
                    f"Too many failed sign-ins. Try again in {minutes} minute"
                    f"{'s' if minutes != 1 else ''}, or ask an admin to reset your password."
                )
        row = self.conn.execute(
            "SELECT password_hash, disabled FROM users WHERE username = ?", (username,)
        ).fetchone()
        if row is None:
            check_password_hash(_dummy_hash(), password)
            self.record(username, "login_failed", "unknown user", client)
            return None
        if not check_password_hash(row[0], password):
            self.record(username, "login_failed", "wrong password", client)
            return None
        if row[1]:
            self.record(username, "login_failed", "account disabled", client)
            return None
        user = self._require(username)
        self.record(user.username, "login", "", client)
        return user

    # -- audit log -------------------------------------------------------------------------
    def record(
        self, username: str | None, action: str, detail: str = "", client: str | None = None
    ) -> None:
        """Add one line to the audit log, stamped now (UTC)."""
        self.conn.execute(
            "INSERT INTO audit_log (at, username, action, detail, client) VALUES (?, ?, ?, ?, ?)",
            (_now().isoformat(timespec="seconds"), username, action, detail, client),
        )

    def audit(
        self,
        username: str | None = None,
        action: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Audit lines, newest first, optionally filtered by user, action and start date."""
        where, values = [], []
        if username:
            where.append("username = ? COLLATE NOCASE")
            values.append(username)
        if action:
            where.append("action = ?")
            values.append(action)
        if since:
            where.append("at >= ?")
            values.append(since)
        sql = "SELECT id, at, username, action, detail, client FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        names = ("id", "at", "username", "action", "detail", "client")
        return [dict(zip(names, row, strict=True)) for row in self.conn.execute(sql, values)]

    def audit_csv(self, **filters) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", "at_utc", "username", "action", "detail", "client"])
        for line in self.audit(**filters):
            writer.writerow([_csv_safe(v) for v in line.values()])
        return buffer.getvalue()


def _csv_safe(value) -> str:
    """Cells starting with = + - @ are formulas to a spreadsheet: quote them as text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
