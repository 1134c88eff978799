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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent

DEFAULT_INSTANCE = PROJECT_ROOT / "instance"
DEFAULT_PACK = PROJECT_ROOT / "boundaries" / "ashfield"
DEFAULT_POSTCODES = PROJECT_ROOT / "data" / "postcodes" / "codepoint_open_2014_ng15_ng16_ng17.csv"
DEFAULT_DEMO_DATA = PROJECT_ROOT / "data" / "policeuk"
BUILTIN_GROUPS = PACKAGE_DIR / "ingest" / "groups.toml"
DEFAULT_TOLERANCE_M = 25.0


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
    )
