"""Importing from the browser: an analyst uploads a police.uk CSV or zip, or a mapped export.

The upload is checked before anything is read (size by MAX_CONTENT_LENGTH, then extension and
the file's first bytes), written to a private folder under the instance, and imported by the
same code as ``hotspots import`` in a background thread, so the page can show progress and the
server keeps answering. Each file is one transaction with its provenance; rejected rows are
kept and their report can be downloaded. The uploaded copy is deleted afterwards.
"""

from __future__ import annotations

import io
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
from hotspots.errors import HotspotsError
from hotspots.importer import ImportReport, import_paths
from hotspots.store import Store
from hotspots.web.auth import audit, client_address, current_user, refuse
from hotspots.web.db import get_pack, get_store

bp = Blueprint("imports", __name__)

ALLOWED = {".csv", ".zip"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old Excel (.xls)


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
    if suffix == ".zip" and not head.startswith(_ZIP_MAGIC):
        return f"{name} is called .zip but is not a zip file."
    if suffix == ".csv" and head.startswith(_ZIP_MAGIC + (_OLE_MAGIC,)):
        return (
            f"{name} is called .csv but is an Excel workbook or other binary file. "
            "In Excel, use Save As → CSV (UTF-8), then import that."
        )
    return None


def _run(job: Job, path: Path, db_path: str, accounts_path: str, pack, tolerance, client, log):
    def progress(stage: str, done: int, total: int) -> None:
        job.stage, job.done, job.total = stage, done, max(total, 1)

    try:
        with Store(db_path) as store:
            job.report = import_paths(
                store,
                [path],
                pack,
                tolerance_m=tolerance,
                progress=progress,
                imported_by=job.username,
            )
        files = ", ".join(
            f"{Path(f.name).name} ({f.imported:,} imported, {f.already_stored:,} already stored, "
            f"{f.rejected:,} rejected)"
            for f in job.report.files
        )
        detail = f"{job.file_name}: {files}"
    except HotspotsError as exc:
        job.error = str(exc).replace(str(path.parent) + "/", "")
        detail = f"{job.file_name}: failed: {job.error}"
    except Exception as exc:  # noqa: BLE001 - the page must say it failed, not hang
        log.exception("Import of %s failed", job.file_name)
        job.error = f"The import failed unexpectedly ({type(exc).__name__}). Nothing from the failing file was stored."
        detail = f"{job.file_name}: failed: {type(exc).__name__}"
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
        job.finished = time.monotonic()
    with Accounts(accounts_path) as accounts:
        accounts.record(job.username, "import", detail, client)


@bp.get("/import")
def page():
    imports = get_store().imports().tail(20).iloc[::-1]
    jobs = [j for j in _jobs().values() if j.username == current_user().username]
    return render_template(
        "import.html",
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
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=_upload_dir()))
    path = folder / name
    upload.save(path)
    job = Job(id=uuid.uuid4().hex, username=current_user().username, file_name=upload.filename)
    _jobs()[job.id] = job
    settings = current_app.config
    thread = threading.Thread(
        target=_run,
        args=(
            job,
            path,
            settings["DB_PATH"],
            settings["ACCOUNTS_PATH"],
            get_pack(),
            float(settings["TOLERANCE_M"]),
            client_address(),
            current_app.logger,
        ),
        name=f"import-{job.id[:8]}",
        daemon=True,
    )
    thread.start()
    return redirect(url_for("imports.job_page", job_id=job.id))


def _upload_dir() -> Path:
    folder = Path(current_app.instance_path) / "uploads"
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
