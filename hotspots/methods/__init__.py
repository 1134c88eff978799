"""Hotspot methods: one module each, one signature, one result type.

To add a method, write a module with ``NAME``, ``TITLE``, ``PARAMS`` and ``detect`` (see
``base.py``), and add one line to ``REGISTRY`` below.
"""

from __future__ import annotations

from types import ModuleType

from hotspots.errors import HotspotsError
from hotspots.methods import dbscan, gistar, grid, hdbscan, kde, prospective
from hotspots.methods.base import DEFAULT_COVERAGE, HotspotResult, StudyArea

REGISTRY: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        grid,
        kde,
        gistar,
        dbscan,
        hdbscan,
        prospective,
    )
}

__all__ = ["DEFAULT_COVERAGE", "REGISTRY", "HotspotResult", "StudyArea", "get_method", "detect"]


def get_method(name: str) -> ModuleType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise HotspotsError(
            f"There is no method '{name}'. Methods: {', '.join(REGISTRY)}."
        ) from None


def detect(
    name: str, incidents, params=None, boundary: StudyArea | None = None, coverage=None
) -> HotspotResult:
    """Run method ``name``; see each module's ``detect``."""
    return get_method(name).detect(incidents, params or {}, boundary, coverage)
