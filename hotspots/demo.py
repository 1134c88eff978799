"""First start: load the bundled Ashfield demo data into an empty store."""

from __future__ import annotations

from hotspots.boundaries import load_pack
from hotspots.config import Settings
from hotspots.importer import ImportReport, Progress, import_paths
from hotspots.store import Store


def ensure_demo_data(settings: Settings, progress: Progress | None = None) -> ImportReport | None:
    """Import the bundled police.uk months if the store is empty; None if it already had data."""
    with Store(settings.db_path) as store:
        if store.count() > 0:
            return None
        pack = load_pack(settings.pack_dir)
        return import_paths(
            store,
            [settings.demo_data_dir],
            pack,
            progress=progress,
            tolerance_m=settings.tolerance_m,
        )
