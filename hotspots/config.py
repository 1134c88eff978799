"""Settings and their defaults, in one place.

Precedence, highest first: explicit arguments (CLI flags, test config), environment
variables, then the defaults spelled out below.

| setting        | environment variable  | default                                          |
|----------------|-----------------------|--------------------------------------------------|
| db_path        | HOTSPOTS_DB           | <instance>/hotspots.sqlite                       |
| instance_dir   | HOTSPOTS_INSTANCE     | <project>/instance                               |
| pack_dir       | HOTSPOTS_PACK         | <project>/boundaries/ashfield                    |
| postcodes_path | HOTSPOTS_POSTCODES    | <project>/data/postcodes/codepoint_open_2014_... |
| groups_path    | HOTSPOTS_GROUPS       | <instance>/groups.toml if present, else built-in |
| demo_data_dir  | HOTSPOTS_DEMO_DATA    | <project>/data/policeuk                          |
| tolerance_m    | HOTSPOTS_TOLERANCE_M  | 25 (metres; boundary-ambiguity band)             |
| max_upload_mb  | HOTSPOTS_MAX_UPLOAD_MB| 100 (largest file the import page takes)         |
| session_hours  | HOTSPOTS_SESSION_HOURS| 12 (a sign-in lasts this long)                   |
| secure_cookies | HOTSPOTS_SECURE_COOKIES| off (turn on when served over HTTPS)            |
| secret_key     | HOTSPOTS_SECRET_KEY   | generated on first run into instance/config.toml |

The web settings (the last four) may also be set in ``<instance>/config.toml``, e.g.
``max_upload_mb = 250``; the environment wins over the file. The first run writes a random
``secret_key`` there (file mode 0600): it signs the session cookies, so keep it private, and
keep it unchanged to keep people signed in across restarts.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from hotspots.errors import HotspotsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent

DEFAULT_INSTANCE = PROJECT_ROOT / "instance"
DEFAULT_PACK = PROJECT_ROOT / "boundaries" / "ashfield"
DEFAULT_POSTCODES = PROJECT_ROOT / "data" / "postcodes" / "codepoint_open_2014_ng15_ng16_ng17.csv"
DEFAULT_DEMO_DATA = PROJECT_ROOT / "data" / "policeuk"
BUILTIN_GROUPS = PACKAGE_DIR / "ingest" / "groups.toml"
DEFAULT_TOLERANCE_M = 25.0
DEFAULT_MAX_UPLOAD_MB = 100
DEFAULT_SESSION_HOURS = 12


@dataclass(frozen=True)
class Settings:
    """Everything the analysis and the CLI need to know about where things live."""

    instance_dir: Path = DEFAULT_INSTANCE
    db_path: Path = field(default=DEFAULT_INSTANCE / "hotspots.sqlite")
    pack_dir: Path = DEFAULT_PACK
    postcodes_path: Path = DEFAULT_POSTCODES
    groups_path: Path = BUILTIN_GROUPS
    demo_data_dir: Path = DEFAULT_DEMO_DATA
    tolerance_m: float = DEFAULT_TOLERANCE_M
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    session_hours: float = DEFAULT_SESSION_HOURS
    secure_cookies: bool = False

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)


def load_settings(db: str | os.PathLike | None = None, env: dict | None = None) -> Settings:
    """Settings from the environment, with an explicit ``db`` path taking precedence."""
    env = os.environ if env is None else env
    instance = Path(env.get("HOTSPOTS_INSTANCE") or DEFAULT_INSTANCE)
    db_path = Path(db or env.get("HOTSPOTS_DB") or instance / "hotspots.sqlite")
    local_groups = instance / "groups.toml"
    groups = env.get("HOTSPOTS_GROUPS") or (
        local_groups if local_groups.exists() else BUILTIN_GROUPS
    )
    return Settings(
        instance_dir=instance,
        db_path=db_path,
        pack_dir=Path(env.get("HOTSPOTS_PACK") or DEFAULT_PACK),
        postcodes_path=Path(env.get("HOTSPOTS_POSTCODES") or DEFAULT_POSTCODES),
        groups_path=Path(groups),
        demo_data_dir=Path(env.get("HOTSPOTS_DEMO_DATA") or DEFAULT_DEMO_DATA),
        tolerance_m=float(env.get("HOTSPOTS_TOLERANCE_M") or DEFAULT_TOLERANCE_M),
        **_web_settings(instance, env),
    )


def instance_config(instance: Path) -> dict:
    """The instance's config.toml as a dict ({} when there is none)."""
    path = instance / "config.toml"
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise HotspotsError(f"{path} is not valid TOML: {exc}.") from exc


def _web_settings(instance: Path, env) -> dict:
    file = instance_config(instance)
    values = {}
    for name, default in (
        ("max_upload_mb", DEFAULT_MAX_UPLOAD_MB),
        ("session_hours", DEFAULT_SESSION_HOURS),
    ):
        raw = env.get(f"HOTSPOTS_{name.upper()}") or file.get(name, default)
        try:
            values[name] = float(raw)
        except (TypeError, ValueError):
            raise HotspotsError(f"{name} must be a number, not '{raw}'.") from None
        if values[name] <= 0:
            raise HotspotsError(f"{name} must be above 0.")
    secure = env.get("HOTSPOTS_SECURE_COOKIES")
    values["secure_cookies"] = (
        secure.strip().lower() in ("1", "true", "yes", "on")
        if secure
        else bool(file.get("secure_cookies", False))
    )
    return values


def secret_key(instance: Path, env=None) -> str:
    """The key that signs session cookies: the environment's, the instance file's, or a new one.

    A new key is written to ``<instance>/config.toml`` (readable by its owner only), so sign-ins
    survive a restart.
    """
    env = os.environ if env is None else env
    if env.get("HOTSPOTS_SECRET_KEY"):
        return env["HOTSPOTS_SECRET_KEY"]
    key = instance_config(instance).get("secret_key")
    if key:
        return str(key)
    key = secrets.token_hex(32)
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "config.toml"
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            "# Signs the session cookies: keep it private. Generated on first run.\n"
            f'secret_key = "{key}"\n' + existing
        )
    os.chmod(path, 0o600)
    return key
