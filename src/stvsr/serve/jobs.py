"""Durable upscaling jobs for the web app: one folder per job under the jobs root, one worker per device.

    JOBS/<id>/job.json      what was asked, the state and the outcome (written atomically)
    JOBS/<id>/input.<ext>   the upload (its extension kept only when it is a known video one)
    JOBS/<id>/result.mp4    the finished video: moved into place by `upscale_video` after its self-check
    JOBS/<id>/before.mp4, after.mp4   the before/after pair (serve/preview.py)

A job runs `upscale_video` with `resume=True`, so its finished segments survive a server that stops mid-job: the
next server finds the job `running` on disk, queues it again, and the segment machinery continues where it stopped.
A job is `done` only once its result and preview are in place. A cancelled or failed job keeps its input (for a
retry) and nothing else.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import OutputError, StvsrError, UsageError
from ..atomic import atomic_write_text
from ..io.outputs import check_writable_folder
from ..io.probe import VIDEO_EXTENSIONS, probe
from ..runtime import QUALITY_LEVELS

STATES = ("queued", "running", "done", "failed", "cancelled")
RESULT, BEFORE, AFTER = "result.mp4", "before.mp4", "after.mp4"


class Cancelled(Exception):
    """Raised from the progress callback to stop a running job at the next frame."""


@dataclass
class JobOptions:
    scale: int = 4
    time_factor: int = 2
    quality: str = "best"

    def check(self) -> JobOptions:
        if self.scale not in (1, 2, 3, 4):
            raise UsageError(f"scale must be 1, 2, 3 or 4, not {self.scale}")
        if self.time_factor not in (1, 2):
            raise UsageError(f"time_factor must be 1 or 2, not {self.time_factor}")
        if self.scale == 1 and self.time_factor == 1:
            raise UsageError("scale 1 with time_factor 1 would change nothing")
        if self.quality not in QUALITY_LEVELS:
            raise UsageError(f"quality must be one of {', '.join(QUALITY_LEVELS)}, not {self.quality!r}")
        return self


@dataclass
class Job:
    id: str
    name: str  # the client's file name, for display only: never part of a path
    created: float
    options: JobOptions
    input_file: str
    frames_total: int
    state: str = "queued"
    progress: float = 0.0
    eta_s: float | None = None
    error: str | None = None
    summary: dict | None = None
    model: str | None = None
    why: str | None = None
    preview: bool = False
    cancel_requested: bool = field(default=False, repr=False)

    def public(self) -> dict:
        data = asdict(self)
        data.pop("cancel_requested")
        data.pop("input_file")
        return data


def _job_from(data: dict) -> Job:
    data = dict(data)
    data["options"] = JobOptions(**data["options"])
    return Job(**{k: v for k, v in data.items() if k in Job.__dataclass_fields__})


class JobQueue:
    """Jobs on disk under `root`, run one at a time on `device` by a worker thread."""

    def __init__(self, root: Path, *, device: str = "auto"):
        self.root, self.device = Path(root), device
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            check_writable_folder(self.root, "jobs")
        except OSError as error:
            raise OutputError(f"cannot keep jobs in {self.root}: {error.strerror or error}") from None
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.pending: queue.Queue[str | None] = queue.Queue()
        for folder in sorted(self.root.iterdir()):
            job = self._load(folder)
            if job is None:
                continue
            self.jobs[job.id] = job
        for job in sorted(self.jobs.values(), key=lambda j: j.created):
            if job.state in ("queued", "running"):  # running: the server stopped mid-job; its segments are kept
                job.state, job.eta_s = "queued", None
                self._save(job)
                self.pending.put(job.id)
        self.worker = threading.Thread(target=self._work, name="stvsr-jobs", daemon=True)
        self.worker.start()

    # -- the API's operations -------------------------------------------------------------------------------
    def submit(self, upload: Path, name: str, options: JobOptions) -> Job:
        """Queue the video at `upload` (moved into the job's folder). It is probed first: anything that is not a
        usable video raises InputError and leaves nothing behind."""
        options.check()
        job_id = uuid.uuid4().hex[:12]
        folder = self.root / job_id
        suffix = Path(name).suffix.lower()
        input_file = "input" + (suffix if suffix in VIDEO_EXTENSIONS else "")
        folder.mkdir()
        try:
            shutil.move(str(upload), folder / input_file)
            info = probe(folder / input_file)
            job = Job(id=job_id, name=Path(name).name[:200] or "video", created=time.time(), options=options,
                      input_file=input_file, frames_total=info.frame_count * options.time_factor)
            job.model, job.why = self._plan(job, info)
        except StvsrError as error:
            shutil.rmtree(folder, ignore_errors=True)
            # the client knows its file by its own name, not by the server's folders
            raise type(error)(str(error).replace(str(folder / input_file), Path(name).name or "video")) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        with self.lock:
            self.jobs[job_id] = job
            self._save(job)
        self.pending.put(job_id)
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def list(self) -> list[Job]:
        return sorted(self.jobs.values(), key=lambda j: j.created)

    def cancel(self, job_id: str) -> Job:
        """Stop a queued or running job (its partial output removed), or remove a finished one altogether."""
        job = self.jobs[job_id]
        with self.lock:
            if job.state == "queued":
                job.state = "cancelled"
                self._save(job)
            elif job.state == "running":
                job.cancel_requested = True  # the worker stops at the next frame and cleans up
            else:
                del self.jobs[job_id]
                shutil.rmtree(self.root / job_id, ignore_errors=True)
        return job

    def retry(self, job_id: str) -> Job:
        job = self.jobs[job_id]
        with self.lock:
            if job.state not in ("failed", "cancelled"):
                raise UsageError(f"only a failed or cancelled job can be retried; this one is {job.state}")
            job.state, job.error, job.progress, job.eta_s, job.cancel_requested = "queued", None, 0.0, None, False
            self._save(job)
        self.pending.put(job_id)
        return job

    def close(self, timeout: float = 5.0) -> None:
        self.pending.put(None)
        self.worker.join(timeout)

    def path(self, job: Job, name: str) -> Path:
        return self.root / job.id / name

    # -- internals --------------------------------------------------------------------------------------------
    def _load(self, folder: Path) -> Job | None:
        try:
            return _job_from(json.loads((folder / "job.json").read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # not a job folder (or one whose record was never written): left alone

    def _save(self, job: Job) -> None:
        record = asdict(job)
        record.pop("cancel_requested")
        atomic_write_text(self.root / job.id / "job.json", json.dumps(record, indent=1))

    def _config(self, job: Job, **extra):
        from ..jobs.options import MethodOptions, UpscaleJob

        folder = self.root / job.id
        method = MethodOptions(scale=job.options.scale, time_factor=job.options.time_factor,
                               quality=job.options.quality, device=self.device)
        return UpscaleJob(input=folder / job.input_file, output=folder / RESULT, method=method, quiet=True, **extra)

    def _plan(self, job: Job, info) -> tuple[str, str | None]:
        from ..jobs.upscale import choose_method, source_choice

        config = self._config(job)
        method = choose_method(config, info.width * info.height * config.method.scale ** 2)
        return source_choice(config, info, method)

    def _work(self) -> None:
        while (job_id := self.pending.get()) is not None:
            job = self.jobs.get(job_id)
            if job is None or job.state != "queued":
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        from ..jobs.segments import work_dir
        from ..jobs.options import Resume
        from ..jobs.upscale import upscale_video
        from .preview import make_pair

        folder = self.root / job.id
        with self.lock:
            job.state, job.progress, job.eta_s = "running", 0.0, None
            self._save(job)
        started, done = time.perf_counter(), 0

        def advance(n: int) -> None:
            nonlocal done
            if job.cancel_requested:
                raise Cancelled()
            done += n
            job.progress = min(done / max(job.frames_total, 1), 1.0)
            rate = done / max(time.perf_counter() - started, 1e-6)
            job.eta_s = round((job.frames_total - done) / rate, 1) if rate > 0 else None

        try:
            summary = upscale_video(self._config(job, resume=Resume(), progress=advance))
            job.preview = make_pair(folder / job.input_file, folder / RESULT, folder / BEFORE, folder / AFTER,
                                    scale=job.options.scale, time_factor=job.options.time_factor)
            result = summary.as_dict()
            result["output"] = RESULT
            with self.lock:
                job.summary, job.state, job.progress, job.eta_s = result, "done", 1.0, 0.0
                self._save(job)
        except Cancelled:
            self._clean(folder, work_dir(folder / RESULT))
            with self.lock:
                job.state, job.eta_s, job.cancel_requested = "cancelled", None, False
                self._save(job)
        except Exception as error:  # noqa: BLE001 - a job's failure is reported on the job, never kills the worker
            self._clean(folder, work_dir(folder / RESULT))
            message = str(error) if isinstance(error, StvsrError) else f"internal error: {type(error).__name__}: {error}"
            with self.lock:
                job.state, job.error, job.eta_s = "failed", message.splitlines()[0] if message else "failed", None
                self._save(job)

    @staticmethod
    def _clean(folder: Path, work: Path) -> None:
        shutil.rmtree(work, ignore_errors=True)
        for name in (RESULT, BEFORE, AFTER):
            (folder / name).unlink(missing_ok=True)
