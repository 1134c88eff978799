"""Category groups: map incident categories (police.uk crime types, local codes) to groups."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hotspots.errors import HotspotsError

ALL = "all"


def slug(category: str) -> str:
    """The group key a category forms on its own: lower case, words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", category.strip().casefold()).strip("-")


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    categories: tuple[str, ...]


class CategoryGroups:
    """The editable mapping from categories to groups, read from a TOML file."""

    def __init__(self, groups: dict[str, Group], source: Path | None = None):
        self.source = source
        self._groups = groups
        self._by_category = {c.casefold(): g.key for g in groups.values() for c in g.categories}

    @classmethod
    def load(cls, path: str | Path) -> CategoryGroups:
        path = Path(path)
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise HotspotsError(f"The category groups file {path} does not exist.") from exc
        except tomllib.TOMLDecodeError as exc:
            raise HotspotsError(
                f"The category groups file {path} is not valid TOML: {exc}"
            ) from exc
        groups = {}
        for key, spec in document.get("groups", {}).items():
            categories = spec.get("categories", [])
            if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
                raise HotspotsError(f"In {path}, groups.{key}.categories must be a list of names.")
            groups[key] = Group(key=key, label=spec.get("label", key), categories=tuple(categories))
        return cls(groups, path)

    def group_of(self, category: str) -> str:
        """The group key for a category."""
        return self._by_category.get(category.strip().casefold(), slug(category))

    def label(self, key: str) -> str:
        if key in self._groups:
            return self._groups[key].label
        return key.replace("-", " ").capitalize()

    def categories_in(self, key: str, known_categories: list[str]) -> list[str]:
        """Which of ``known_categories`` (e.g. those in the store) belong to group ``key``."""
        return [c for c in known_categories if self.group_of(c) == key]

    def keys_for(self, known_categories: list[str]) -> list[str]:
        """Every group key present among ``known_categories``, configured groups first."""
        present = {self.group_of(c) for c in known_categories}
        configured = [k for k in self._groups if k in present]
        return configured + sorted(present - set(configured))
