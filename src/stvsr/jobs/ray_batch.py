"""`stvsr batch --engine ray`: the batch's segments spread over the workers of a Ray cluster (issue 40).

The driver (the `stvsr batch` process) does what needs the whole picture: it lists the inputs, skips finished
outputs (their job records), claims each file it takes (`io.claims`: two drivers on the same folders never write one
file twice), plans every video as segments (`upscale.SegmentedJob`, the `--resume` machinery), joins each file's
segments without re-encoding, adds the audio once and self-checks the result. The workers do the frames: one Ray
actor per GPU (`--gpus-per-worker`) or per CPU core, each keeping its models loaded between segments, each segment
written atomically into the work folder beside its output. So a long film is cut across all workers, not one.

Faults: a worker process that dies (kill -9, a lost node) is restarted by Ray and its segment retried
(`--max-retries`); a segment that fails for a user reason (a corrupt input) fails its file alone, with its one-line
error; a killed driver loses nothing that was finished: the same command keeps finished files and segments.

Storage: inputs and outputs must sit on a path every node sees under the same name (NFS or similar); object
stores (s3://) are not supported. Ray is imported only here, so the rest of stvsr does not pay for it.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from .batch import BatchResult, FileResult, batch_sources, claimed_files, record_job
from ..errors import StvsrError, UsageError


class SegmentWorker:
    """A Ray actor: computes segments of `SegmentedJob`s, its models built once per method and kept."""

    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # Ray sets CUDA_VISIBLE_DEVICES
        self.models: dict = {}

    def pid(self) -> int:
        return os.getpid()

    def run(self, job, index: int) -> dict:
        from .segments import work_dir

        # Each attempt leaves a line in the shared work folder: the driver reads retries from it.
        attempts = work_dir(job.output) / f".attempts_{index:05d}"
        with attempts.open("a") as f:
            f.write(f"{socket.gethostname()} {os.getpid()}\n")
        key = (job.method, job.scale, job.time_factor, job.order, str(job.tile), job.precision, job.tta)
        if key not in self.models:
            self.models[key] = job.prepare_model(self.device)
        frames = 0

        def count(n: int) -> None:
            nonlocal frames
            frames += n

        cuts = job.compute(index, self.models[key], self.device, count)
        return {"frames": frames, "cuts": cuts, "worker": f"{socket.gethostname()}:{os.getpid()}",
                "attempts": len(attempts.read_text().splitlines())}


@dataclass
class _File:
    source: Path
    output: Path
    job: object  # SegmentedJob
    record: dict
    claim: object
    notes: list[str]
    started: float = field(default_factory=time.perf_counter)
    left: set[int] = field(default_factory=set)
    workers: set[str] = field(default_factory=set)
    retries: int = 0
    failed: str | None = None
    exit_code: int = 0


def connect(address: str | None, *, num_cpus: int | None = None):
    """`ray.init`: join the cluster at `address` ('auto' or HOST:PORT), or start an embedded local one."""
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'stvsr[ray]'") from None
    if ray.is_initialized():
        return ray
    kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning",
              "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=num_cpus, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise UsageError(f"could not reach the Ray cluster at {address}: {str(error).splitlines()[0]}") from None
    return ray


def run_ray_batch(in_dir: Path, out_dir: Path, template, *, ext: str | None = None, address: str | None = None,
                  workers: int | None = None, gpus_per_worker: float = 0.0, max_retries: int = 3,
                  progress=None, on_status=None) -> tuple[BatchResult, dict]:
    """Upscale every video of `in_dir` into `out_dir` on Ray; returns the results and the report's engine part.

    `progress(n)`: n more output frames written somewhere in the cluster. `on_status(text)`: files and segments
    done out of the total, for the one progress line.
    """
    sources = batch_sources(in_dir, out_dir, ext)
    ray = connect(address)
    result = BatchResult()
    files = _planned_files(sources, out_dir, ext, template, result, progress)
    workers = _worker_count(ray, workers, gpus_per_worker)
    actor = ray.remote(SegmentWorker).options(num_cpus=1, num_gpus=gpus_per_worker, max_restarts=max_retries,
                                             max_task_retries=max_retries)
    dispatch = _Dispatch(ray, actor, workers if any(f.left for f in files) else 0, files, result, len(sources),
                         max_retries, progress, on_status)
    dispatch.run()
    report = {"engine": "ray", "address": address or "local (embedded)", "workers": workers,
              "gpus_per_worker": gpus_per_worker,
              "nodes": [{"host": n.get("NodeManagerHostname"), "address": n.get("NodeManagerAddress"),
                         "cpus": n.get("Resources", {}).get("CPU"), "gpus": n.get("Resources", {}).get("GPU", 0)}
                        for n in ray.nodes() if n.get("Alive")],
              "files": {f.source.name: {"workers": sorted(f.workers), "retries": f.retries, "notes": f.notes}
                        for f in files}}
    order = {s.name: i for i, s in enumerate(sources)}
    result.results.sort(key=lambda r: order.get(r.name, len(order)))
    return result, report


def _planned_files(sources: list[Path], out_dir: Path, ext: str | None, template, result: BatchResult,
                   progress) -> list[_File]:
    """Claim and plan each file this driver is to do (its segments; those already written count as progress).
    A file that cannot be planned (a corrupt input) is recorded as failed and its claim released."""
    import torch

    from .options import Resume
    from .segments import open_work, segment_path, work_dir
    from .upscale import plan_upscale, segmented_job

    files = []
    for source, output, record, claim, _ in claimed_files(sources, out_dir, ext, template, result):
        config = template.for_file(source, output, resume=template.resume or Resume(), quiet=True,
                                   overwrite=output.exists(), progress=None)
        try:
            plan = plan_upscale(config, device=torch.device("cpu"))
            job = segmented_job(config, plan)
            _, notes = open_work(job.output, job.manifest)
        except StvsrError as error:
            claim.release()
            result.results.append(FileResult(source.name, "failed", str(error), exit_code=error.exit_code))
            continue
        entry = _File(source, output, job, record, claim, notes=plan.notes + notes)
        folder = work_dir(output)
        for index in range(job.plan.count):
            if not segment_path(folder, index, output.suffix).exists():
                entry.left.add(index)
            elif progress is not None:
                start, stop = job.plan.span(index)
                progress((stop - start) * job.time_factor)
        files.append(entry)
    return files


def _worker_count(ray, workers: int | None, gpus_per_worker: float) -> int:
    """Workers asked for, else one per GPU at `gpus_per_worker` each, else one per CPU of the cluster."""
    resources = ray.cluster_resources()
    if gpus_per_worker and resources.get("GPU", 0) < gpus_per_worker:
        raise UsageError(f"--gpus-per-worker {gpus_per_worker:g}: the cluster has {resources.get('GPU', 0):g} GPUs")
    if workers is None:
        workers = int(resources.get("GPU", 0) // gpus_per_worker) if gpus_per_worker else int(resources.get("CPU", 1))
    return max(1, workers)


class _Dispatch:
    """The segments of every planned file handed to a pool of workers, one at a time each; a file is joined as soon
    as its last segment is in. A worker that died is replaced; a segment's failure fails its file alone."""

    def __init__(self, ray, actor, workers: int, files: list[_File], result: BatchResult, file_count: int,
                 max_retries: int, progress, on_status):
        self.ray, self.actor, self.files, self.result = ray, actor, files, result
        self.file_count, self.max_retries, self.progress, self.on_status = file_count, max_retries, progress, on_status
        self.pool = [actor.remote(1) for _ in range(workers)]
        self.idle = list(self.pool)
        self.pending = [(f, i) for f in files for i in sorted(f.left)]
        self.in_flight: dict = {}
        self.total_segments = sum(f.job.plan.count for f in files)
        self.done_segments = self.total_segments - len(self.pending)

    def run(self) -> None:
        for entry in self.files:
            if not entry.left:
                self.finish_file(entry)
        self.status()
        while self.pending or self.in_flight:
            self.hand_out()
            if self.in_flight:
                ready, _ = self.ray.wait(list(self.in_flight), num_returns=1, timeout=1.0)
                for ref in ready:
                    self.collect(ref)
        for worker in self.pool:
            self.ray.kill(worker)

    def hand_out(self) -> None:
        while self.pending and self.idle:
            entry, index = self.pending.pop(0)
            if entry.failed is not None:  # its file failed already: the rest of its segments are not computed
                self.segment_over(entry, index)
                continue
            worker = self.idle.pop()
            self.in_flight[worker.run.remote(entry.job, index)] = (entry, index, worker)

    def collect(self, ref) -> None:
        entry, index, worker = self.in_flight.pop(ref)
        self.idle.append(worker)
        try:
            answer = self.ray.get(ref)
            entry.workers.add(answer["worker"])
            entry.retries += answer["attempts"] - 1
            if self.progress is not None:
                self.progress(answer["frames"])
        except Exception as error:  # noqa: BLE001 - one file's failure must not stop the others
            cause = getattr(error, "cause", None) or error
            if isinstance(cause, StvsrError):
                entry.failed, entry.exit_code = str(cause), cause.exit_code
            else:
                entry.failed = f"segment {index} failed after {self.max_retries} retries: {type(cause).__name__}: " \
                               f"{str(cause).splitlines()[0] if str(cause) else ''}"
                entry.exit_code = 1
            if not _alive(self.ray, worker):
                self.idle.remove(worker)
                replacement = self.actor.remote(1)
                self.pool.append(replacement)
                self.idle.append(replacement)
        self.done_segments += 1
        self.segment_over(entry, index)

    def segment_over(self, entry: _File, index: int) -> None:
        """Segment `index` of `entry` is done, failed or skipped: the file finishes once none is left or running."""
        entry.left.discard(index)
        if not entry.left and not any(e is entry for e, _, _ in self.in_flight.values()):
            self.finish_file(entry)
        else:
            self.status()

    def status(self) -> None:
        if self.on_status is not None:
            finished = sum(r.status in ("done", "skipped") for r in self.result.results)
            self.on_status(f"{finished}/{self.file_count} files, {self.done_segments}/{self.total_segments} segments")

    def finish_file(self, entry: _File) -> None:
        """Join the file's segments, add the audio and self-check (or record its failure); release its claim."""
        seconds = time.perf_counter() - entry.started
        try:
            if entry.failed is None:
                check, _ = entry.job.finish(overwrite=entry.output.exists())
                record_job(entry.output, entry.record)
                self.result.results.append(FileResult(entry.source.name, "done", check.summary(),
                                                      entry.job.plan.frames_in * entry.job.time_factor,
                                                      time.perf_counter() - entry.started))
            else:
                self.result.results.append(FileResult(entry.source.name, "failed", entry.failed, seconds=seconds,
                                                      exit_code=entry.exit_code))
        except StvsrError as error:
            self.result.results.append(FileResult(entry.source.name, "failed", str(error), seconds=seconds,
                                                  exit_code=error.exit_code))
        finally:
            entry.claim.release()
        self.status()


def _alive(ray, worker) -> bool:
    try:
        ray.get(worker.pid.remote(), timeout=30)
        return True
    except Exception:  # noqa: BLE001 - any failure to answer means the actor is gone for good
        return False
