"""Importing from the browser: an analyst uploads a police.uk CSV or the zip data.police.uk gives.

The upload is checked before anything is read (size by MAX_CONTENT_LENGTH, then extension and
the file's first bytes), written to a private folder under the instance, and imported by the
same code as ``hotspots import`` in a separate process at a lower priority (a thread of the
server follows its progress for the page), so the maps keep answering at full speed while it
runs. Each file is one transaction with its provenance; rejected rows are kept and their report
can be downloaded. The uploaded copy is deleted afterwards.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.utils import secure_filename

from hotspots.accounts import Accounts
from hotspots.errors import HotspotsError, MappingError
from hotspots.importer import ImportReport, import_paths
from hotspots.ingest.mapping import FIELDS, ColumnMapping
from hotspots.ingest.sources import OLE_MAGIC, ZIP_MAGIC
from hotspots.store import Store
from hotspots.web.auth import audit, client_address, current_user, refuse
from hotspots.web.db import get_store

bp = Blueprint("imports", __name__)

ALLOWED = {".csv", ".zip"}
KEEP_JOBS = 100
# The mapping fields the form offers ("datetime" is the same as "date").
FORM_FIELDS = [f for f in FIELDS if f != "datetime"]
# One upload imports at a time (SQLite has one writer); later ones wait their turn.
_IMPORT_SLOT = threading.Lock()


@dataclass
class Job:
    """One upload being imported: its progress, and its report or error when done."""

    id: str
    username: str
    file_name: str
    stage: str = "waiting to start"
    done: int = 0
    total: int = 1
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    report: ImportReport | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None


def _jobs() -> dict[str, Job]:
    return current_app.extensions.setdefault("hotspots_import_jobs", {})


def check_upload(name: str, head: bytes) -> str | None:
    """Why this upload cannot be imported, from its name and first bytes; None if it may be."""
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED:
        return (
            f"{name} is not a .csv or .zip file. Import police.uk street files (CSV, or the zip "
            "data.police.uk gives you) or a local export saved as CSV."
        )
    if not head:
        return f"{name} is empty."
    if suffix == ".zip" and not head.startswith(ZIP_MAGIC):
        return f"{name} is called .zip but is not a zip file."
    if suffix == ".csv" and head.startswith((*ZIP_MAGIC, OLE_MAGIC)):
        return (
            f"{name} is called .csv but is an Excel workbook or other binary file. "
            "In Excel, use Save As → CSV (UTF-8), then import that."
        )
    return None


def _import_in_child(path: str, task: dict, messages) -> None:
    """The import itself, in its own process at a lower priority: it gets its own CPU time and
    GIL, so the maps keep answering while it runs."""
    import contextlib

    from hotspots.boundaries import load_pack
    from hotspots.ingest.postcodes import load_postcodes

    with contextlib.suppress(AttributeError, OSError):
        os.nice(5)
    mapping = task["mapping"]
    try:
        postcodes = (
            load_postcodes(task["POSTCODES_PATH"])
            if mapping is not None and "postcode" in mapping.columns
            else None
        )
        with Store(task["DB_PATH"]) as store:
            report = import_paths(
                store,
                [Path(path)],
                load_pack(task["PACK_DIR"]),
                mapping=mapping,
                postcodes=postcodes,
                tolerance_m=float(task["TOLERANCE_M"]),
                progress=lambda stage, done, total: messages.put(("progress", stage, done, total)),
                imported_by=task["username"],
            )
        messages.put(("done", report))
    except HotspotsError as exc:
        messages.put(("error", str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported to the page and the log
        messages.put(("crash", f"{type(exc).__name__}: {exc}"))


def _process_context():
    """Never fork the threaded server itself: a fork server (POSIX) forks each import from a
    clean process that has the import code loaded already; elsewhere each import is spawned."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["hotspots.importer", "hotspots.web.imports"])
        return context
    return multiprocessing.get_context("spawn")


def _supervise(job: Job, path: Path, settings: dict, client: str, log) -> None:
    """Start the import process, follow its progress into ``job``, then audit and clean up."""
    context = _process_context()
    messages = context.Queue()
    process = context.Process(
        target=_import_in_child,
        args=(str(path), {**settings, "username": job.username}, messages),
        daemon=True,
    )
    try:
        job.stage = "waiting for the import before it to finish"
        with _IMPORT_SLOT:
            job.stage = "starting the import"
            outcome = _follow(job, process, messages)
    except Exception as exc:  # noqa: BLE001 - the page must say it failed, not hang
        outcome = ("crash", f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    _finish(job, outcome, path, settings, client, log)


def _follow(job: Job, process, messages) -> tuple:
    """Run the import process; pass its progress to ``job``; return how it ended."""
    outcome = None
    process.start()
    while outcome is None:
        try:
            message = messages.get(timeout=1)
        except queue.Empty:
            if not process.is_alive():
                outcome = ("crash", f"the import process stopped (exit {process.exitcode})")
            continue
        if message[0] == "progress":
            job.stage, job.done, job.total = message[1], message[2], max(message[3], 1)
        else:
            outcome = message
    process.join(timeout=30)
    return outcome


def _finish(job: Job, outcome: tuple, path: Path, settings: dict, client: str, log) -> None:
    """Show how the import ended on the job page, and record it in the audit log."""
    kind, value = outcome
    if kind == "done":
        job.report = value
        files = ", ".join(f"{Path(f.name).name} ({f.counts})" for f in value.files)
        detail = f"{job.file_name}: {files}"
    elif kind == "error":
        job.error = value.replace(str(path.parent) + "/", "")
        if "--mapping FILE" in job.error:  # the CLI's advice; on this page it is the form
            job.error = job.error.split(" To import a local export")[0] + (
                " To import a local export, open “A local export” on the import page and say "
                "which columns hold the date, category and location."
            )
        detail = f"{job.file_name}: failed: {job.error}"
    else:
        log.error("Import of %s failed: %s", job.file_name, value)
        job.error = (
            "The import failed unexpectedly; it has been logged. Nothing from the failing "
            "file was stored."
        )
        detail = f"{job.file_name}: failed: {value}"
    job.finished = time.monotonic()
    with Accounts(settings["ACCOUNTS_PATH"]) as accounts:
        accounts.record(job.username, "import", detail, client)


@bp.get("/import")
def page():
    imports = get_store().imports().tail(20).iloc[::-1]
    jobs = [j for j in _jobs().values() if j.username == current_user().username]
    return render_template(
        "import.html",
        fields={f: FIELDS[f] for f in FORM_FIELDS},
        mappings=saved_mappings(_instance_folder("mappings")),
        imports=imports.to_dict(orient="records"),
        jobs=sorted(jobs, key=lambda j: -j.started)[:5],
        limit_mb=current_app.config["MAX_CONTENT_LENGTH"] / 1024 / 1024,
    )


@bp.post("/import")
def upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return refuse(400, "Choose a file to import first.")
    name = secure_filename(upload.filename) or "upload"
    head = upload.stream.read(8)
    upload.stream.seek(0)
    problem = check_upload(upload.filename, head)
    if problem:
        audit("import", f"{upload.filename}: refused: {problem}")
        return refuse(400, problem)
    try:
        mapping = mapping_from_form(request.form, _instance_folder("mappings"))
    except HotspotsError as exc:
        return refuse(400, str(exc))
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=_instance_folder("uploads")))
    path = folder / name
    upload.save(path)
    job = Job(id=uuid.uuid4().hex, username=current_user().username, file_name=upload.filename)
    jobs = _jobs()
    for old in [j.id for j in jobs.values() if not j.running][:-KEEP_JOBS]:
        del jobs[old]  # finished jobs stay viewable until this many newer ones have finished
    jobs[job.id] = job
    settings = {
        name: current_app.config[name]
        for name in ("DB_PATH", "PACK_DIR", "TOLERANCE_M", "ACCOUNTS_PATH", "POSTCODES_PATH")
    }
    settings["mapping"] = mapping
    thread = threading.Thread(
        target=_supervise,
        args=(job, path, settings, client_address(), current_app.logger),
        name=f"import-{job.id[:8]}",
        daemon=True,
    )
    thread.start()
    return redirect(url_for("imports.job_page", job_id=job.id))


def saved_mappings(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


def mapping_from_form(form, folder: Path) -> ColumnMapping | None:
    """The column mapping the form describes: a saved one, one typed in (saved for next time
    when asked), or None for police.uk files."""
    chosen = (form.get("mapping") or "").strip()
    if chosen:
        if chosen not in saved_mappings(folder):
            raise MappingError(f"There is no saved column mapping called '{chosen}'.")
        return ColumnMapping.from_toml(folder / f"{chosen}.toml")
    pairs = [
        f"{field}={form.get('column.' + field, '').strip()}"
        for field in FORM_FIELDS
        if form.get("column." + field, "").strip()
    ]
    if not pairs:
        return None
    source = (form.get("source") or "").strip() or "local export"
    mapping = ColumnMapping.from_options(pairs, source=source)
    if form.get("save_mapping"):
        name = secure_filename(source.lower().replace(" ", "-")) or "local-export"
        (folder / f"{name}.toml").write_text(mapping.to_toml(), encoding="utf-8")
    return mapping


def _instance_folder(name: str) -> Path:
    """A folder of the instance (uploads, saved mappings), readable by the service only."""
    folder = Path(current_app.instance_path) / name
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


@bp.get("/import/jobs/<job_id>")
def job_page(job_id: str):
    job = _jobs().get(job_id)
    if job is None or (
        job.username != current_user().username and not current_user().has_role("admin")
    ):
        abort(404)
    return render_template(
        "import_job.html", job=job, elapsed=(job.finished or time.monotonic()) - job.started
    )


@bp.get("/import/<int:import_id>/rejects.csv")
def rejects_csv(import_id: int):
    store = get_store()
    imports = store.imports()
    if import_id not in set(imports["id"]):
        abort(404)
    rows = store.rejects(import_id)
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False)
    file_name = imports.loc[imports["id"] == import_id, "file_name"].iloc[0]
    audit("export", f"reject report of import {import_id} ({file_name}): {len(rows):,} rows")
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=rejects-import-{import_id}.csv"},
    )
