"""`stvsr serve`: a local web page over the upscaling jobs (issue 41).

- `jobs.py`: durable jobs on disk, one worker per device, resumed after a restart.
- `preview.py`: the before/after pair the page plays under a slider.
- `app.py`: the ASGI app (FastAPI on Starlette): the JSON API and the page, with its token and upload limit.
- `static/`: the page (HTML, CSS, JS written for it; nothing loaded from elsewhere).
Installed with the `serve` extra: `pip install 'stvsr[serve]'`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from ..errors import UsageError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def default_jobs_dir() -> Path:
    """The user's data folder (platformdirs: ~/.local/share/stvsr/jobs on Linux)."""
    from platformdirs import user_data_path

    return user_data_path("stvsr") / "jobs"


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """The token the server checks, and whether it was generated here (then printed once). A server on another
    interface than loopback always has one."""
    if token:
        return token, False
    if host in LOCAL_HOSTS:
        return None, False
    return secrets.token_urlsafe(24), True


def check_can_listen(host: str, port: int) -> None:
    """One line (UsageError) for a port that is out of range, taken, or not ours to bind, before anything starts:
    uvicorn would report it as a traceback after the address had been announced."""
    import socket

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0 to 65535, not {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UsageError(f"--host {host}: {error.strerror}") from None
    family, kind, _, _, address = infos[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is not "taken"
        try:
            probe.bind(address)
        except OSError as error:
            raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def run_server(*, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, jobs_dir: Path | None = None,
               token: str | None = None, device: str = "auto", max_upload: int | None = None,
               announce=print) -> None:
    """Serve until interrupted (uvicorn handles Ctrl-C and SIGTERM: running work is kept, and resumes next time)."""
    import uvicorn

    from .app import DEFAULT_MAX_UPLOAD, create_app
    from .jobs import JobQueue

    token, generated = resolve_token(host, token)
    check_can_listen(host, port)
    jobs = JobQueue(jobs_dir or default_jobs_dir(), device=device)
    hosts = [f"{h}" for h in ("127.0.0.1", "localhost", "[::1]", "::1")] if host in LOCAL_HOSTS else None
    app = create_app(jobs, token=token, max_upload=max_upload or DEFAULT_MAX_UPLOAD, allowed_hosts=hosts)
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    announce(f"stvsr serve: open {address}   (jobs in {jobs.root}; Ctrl-C stops, unfinished jobs resume next time)")
    if generated:
        announce("stvsr serve: the token above was generated for this run; give --token to choose one")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        jobs.close(timeout=1.0)
