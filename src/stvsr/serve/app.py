"""The ASGI app: a JSON API over `JobQueue` and the page that uses it (static files shipped in the package).

    POST   /api/jobs                multipart `file` + form `scale`, `time_factor`, `quality` -> {"id": ...}
    GET    /api/jobs                every job, oldest first
    GET    /api/jobs/{id}           {"state", "progress", "eta_s", "error", "summary", "model", "why", ...}
    GET    /api/jobs/{id}/result    the finished video
    GET    /api/jobs/{id}/preview   {"before": URL, "after": URL}: the before/after pair
    POST   /api/jobs/{id}/retry     queue a failed or cancelled job again
    DELETE /api/jobs/{id}           cancel a queued or running job; remove a finished one

Errors are {"error": one sentence} with a 4xx status. With a token, every request needs it: the header
`Authorization: Bearer T`, or once `?token=T` on the page, which sets a same-site cookie for the page's own calls.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import StvsrError, UsageError
from .jobs import AFTER, BEFORE, RESULT, JobOptions, JobQueue

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_UPLOAD = 4 * 1024 ** 3  # bytes: a 4 GB upload is about an hour of 1080p phone video
COOKIE = "stvsr_token"


class UploadTooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(jobs: JobQueue, *, token: str | None = None, max_upload: int = DEFAULT_MAX_UPLOAD,
               allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app over `jobs`. `token`: required on every request when set. `allowed_hosts`: Host headers accepted
    (a server on 127.0.0.1 answers only to its own names, so a web page elsewhere cannot reach it by DNS rebinding)."""
    app = FastAPI(title="stvsr", docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.middleware("http")
    async def check_token(request: Request, call_next):
        if token is None:
            return await call_next(request)
        given = request.query_params.get("token")
        header = request.headers.get("authorization", "")
        offered = given or (header[7:] if header.lower().startswith("bearer ") else None) or request.cookies.get(COOKIE)
        if offered is None or not secrets.compare_digest(offered.encode(), token.encode()):
            return _error(401, "this stvsr server needs its token: open the address it printed, with ?token=")
        if given is not None and request.url.path == "/":  # the page opened with ?token=: keep it in a cookie
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response
        return await call_next(request)

    @app.post("/api/jobs")
    async def submit(request: Request):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_upload:
            return _error(413, f"the upload is larger than this server's limit of {max_upload / 1e6:.0f} MB")
        spool = Path(tempfile.mkdtemp(prefix="stvsr-upload-", dir=jobs.root))
        try:
            try:
                form = await MultiPartParser(request.headers, _limited(request.stream(), max_upload),
                                             max_files=1, max_fields=10).parse()
            except UploadTooLarge:
                return _error(413, f"the upload is larger than this server's limit of {max_upload / 1e6:.0f} MB")
            except MultiPartException as error:
                return _error(400, f"not a multipart form: {error}")
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return _error(400, "the form has no file field named 'file'")
            try:
                options = JobOptions(scale=int(form.get("scale", 4)), time_factor=int(form.get("time_factor", 2)),
                                     quality=str(form.get("quality", "best")))
            except ValueError:
                return _error(422, "scale and time_factor must be whole numbers")
            saved = spool / "upload"
            with saved.open("wb") as out:
                shutil.copyfileobj(upload.file, out, 1 << 20)
            await form.close()
            try:
                job = jobs.submit(saved, upload.filename or "video", options)
            except StvsrError as error:
                return _error(422 if isinstance(error, UsageError) else 415, str(error))
            return JSONResponse({"id": job.id}, status_code=201)
        finally:
            shutil.rmtree(spool, ignore_errors=True)

    @app.get("/api/jobs")
    def list_jobs():
        return [job.public() for job in jobs.list()]

    @app.get("/api/jobs/{job_id}")
    def get_job(job_id: str):
        job = jobs.get(job_id)
        return job.public() if job is not None else _error(404, f"no job {job_id}")

    @app.get("/api/jobs/{job_id}/result")
    def result(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            return _error(404, f"no job {job_id}")
        if job.state != "done":
            return _error(409, f"job {job_id} is {job.state}: its result is not ready")
        stem = Path(job.name).stem or "video"
        return FileResponse(jobs.path(job, RESULT), media_type="video/mp4", filename=f"{stem}.stvsr.mp4")

    @app.get("/api/jobs/{job_id}/preview")
    def preview(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            return _error(404, f"no job {job_id}")
        if job.state != "done" or not job.preview:
            return _error(409, f"job {job_id} has no preview yet ({job.state})")
        return {"before": f"/api/jobs/{job_id}/preview/before", "after": f"/api/jobs/{job_id}/preview/after"}

    @app.get("/api/jobs/{job_id}/preview/{side}")
    def preview_file(job_id: str, side: str):
        job = jobs.get(job_id)
        if job is None or side not in ("before", "after") or job.state != "done" or not job.preview:
            return _error(404, f"no {side} preview for job {job_id}")
        return FileResponse(jobs.path(job, BEFORE if side == "before" else AFTER), media_type="video/mp4")

    @app.post("/api/jobs/{job_id}/retry")
    def retry(job_id: str):
        if jobs.get(job_id) is None:
            return _error(404, f"no job {job_id}")
        try:
            return jobs.retry(job_id).public()
        except StvsrError as error:
            return _error(409, str(error))

    @app.delete("/api/jobs/{job_id}")
    def cancel(job_id: str):
        if jobs.get(job_id) is None:
            return _error(404, f"no job {job_id}")
        return jobs.cancel(job_id).public()

    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _limited(stream, limit: int):
    """The request body, stopped with UploadTooLarge past `limit` bytes (a missing or false Content-Length)."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise UploadTooLarge()
        yield chunk
