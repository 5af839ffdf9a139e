"""The batch proposal job behind ``segtool propose`` (and usable from the GUI or a notebook).

Every image of a project (or those matching a glob) gets automatic mask proposals stored as
*pending* instances (``source="proposal"``, ``state="pending"``, with their score): they are not
exported until accepted and are counted as ``pending_proposals`` by
:meth:`~segtool.store.sqlite.ProjectStore.counts`.

Resumable: each image's proposals are stored together with its completion marker (meta key
``proposals_done/<image_id>``) in one transaction, so a job killed at any moment and restarted
continues with the images not yet done, without duplicates.

Parallel: the per-image work (:func:`propose_one`) runs in this process, in ``workers`` local
processes, or as tasks on a Ray cluster (an existing one by address, or ``"local"``); in every case
one writer (this process) stores the results as they arrive, keeping a bounded number of images
in flight so that a million-image project does not fill the memory.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segtool.core.document import ImageRecord, Instance
from segtool.core.errors import SegtoolError
from segtool.core.masks import decode_rle, encode_rle_crop, rle_area, rle_bbox
from segtool.engines.proposals import ProposalConfig, generate_proposals
from segtool.engines.registry import SAM_ENGINES, create_engine
from segtool.io.images import load_image
from segtool.store.sqlite import ProjectStore

#: Engine names accepted by the job (``classical`` needs no model).
JOB_ENGINES = (*SAM_ENGINES, "classical")
#: Meta key prefix of the per-image completion markers.
DONE_KEY = "proposals_done/"


@dataclass
class ProposeSpec:
    """What to run on each image (picklable: it travels to worker processes and Ray tasks).

    Attributes
    ----------
    engine : ``sam-onnx``, ``sam-torch`` or ``classical``.
    model : model folder / checkpoint of a SAM engine.
    config : :class:`ProposalConfig` fields as a dict (``points_per_side``...).
    threads : intra-op threads per worker (None: the runtime's default).
    """

    engine: str = "sam-onnx"
    model: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.engine not in JOB_ENGINES:
            raise SegtoolError(f"unknown proposal engine {self.engine!r}; choose one of {', '.join(JOB_ENGINES)}")
        if self.engine in SAM_ENGINES and not self.model:
            raise SegtoolError(f"{self.engine} needs a model: pass --model PATH, or use --engine classical")
        unknown = set(self.config) - set(asdict(ProposalConfig()))
        if unknown:
            raise SegtoolError(f"unknown proposal option(s): {', '.join(sorted(unknown))}")


@dataclass
class ImageTask:
    """One image to process: absolute ``path``, and the RLEs of its existing instances."""

    image_id: int
    path: str
    existing: list[dict]


@dataclass
class ImageResult:
    """Proposals of one image as ``(rle, score)`` pairs (compact to send between processes)."""

    image_id: int
    proposals: list[tuple[dict, float]]


_ENGINES: dict[tuple, Any] = {}


def _engine_for(spec: ProposeSpec) -> Any:
    """The engine of ``spec``, created once per process (None for ``classical``)."""
    if spec.engine == "classical":
        return None
    key = (spec.engine, spec.model, spec.threads)
    if key not in _ENGINES:
        options: dict[str, Any] = {"model": spec.model}
        if spec.engine == "sam-onnx":
            options.update(threads=spec.threads, cache=False)
        _ENGINES[key] = create_engine(spec.engine, **options)
    return _ENGINES[key]


def propose_one(spec: ProposeSpec, task: ImageTask) -> ImageResult:
    """Proposals for one image (runs in a worker process or a Ray task).

    Proposals overlapping an existing instance with IoU >= 0.7 are dropped.
    """
    image = load_image(task.path)
    existing = [decode_rle(r) for r in task.existing]
    props = generate_proposals(image, _engine_for(spec), ProposalConfig(**spec.config), existing=existing)
    return ImageResult(task.image_id, [(encode_rle_crop(p.crop, p.offset, p.image_size), float(p.score)) for p in props])


def done_image_ids(store: ProjectStore) -> set[int]:
    """Ids of the images whose proposals are already stored."""
    return {r.id for r in store.images() if store.meta_get(DONE_KEY + str(r.id)) is not None}


def images_to_do(store: ProjectStore, pattern: str | None = None) -> list[ImageRecord]:
    """Images not done yet, optionally only those whose relative path matches the glob ``pattern``."""
    done = done_image_ids(store)
    todo = [r for r in store.images() if r.id not in done]
    if pattern:
        todo = [r for r in todo if fnmatch.fnmatch(r.path, pattern) or fnmatch.fnmatch(Path(r.path).name, pattern)]
    return todo


def store_result(store: ProjectStore, result: ImageResult, spec: ProposeSpec) -> int:
    """Store one image's proposals as pending instances and mark it done, in one transaction.

    Returns the number of proposals stored (0 when the image was already done, e.g. a duplicate
    result of a retried task).
    """
    with store.transaction():
        if store.meta_get(DONE_KEY + str(result.image_id)) is not None:
            return 0
        top = max((i.z for i in store.instances(result.image_id)), default=-1)
        instances = [Instance(id=0, image_id=result.image_id, class_id=None, rle=rle,
                              bbox=rle_bbox(rle) or (0, 0, 0, 0), area=rle_area(rle), score=score,
                              source="proposal", state="pending", z=top + 1 + k)
                     for k, (rle, score) in enumerate(result.proposals)]
        store.add_instances(result.image_id, instances)
        store.meta_set(DONE_KEY + str(result.image_id), {"engine": spec.engine, "count": len(instances)})
    return len(instances)


def _task(store: ProjectStore, record: ImageRecord) -> ImageTask:
    existing = [i.rle for i in store.instances(record.id)]
    return ImageTask(record.id, str(store.root / record.path), existing)


def _run_local(spec: ProposeSpec, tasks: Iterator[ImageTask], workers: int) -> Iterator[ImageResult]:
    """Results in completion order: in this process (``workers <= 1``) or in a process pool."""
    if workers <= 1:
        for task in tasks:
            yield propose_one(spec, task)
        return
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: set[Future] = set()
        for task in tasks:
            pending.add(pool.submit(propose_one, spec, task))
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in finished)
        for future in pending:
            yield future.result()


def _ray_init(address: str) -> Any:
    """Connect to the Ray cluster at ``address`` or start a local one (``"local"``)."""
    try:
        import ray
    except ImportError:
        raise SegtoolError("--ray needs Ray: pip install 'segtool[ray]'") from None
    if not ray.is_initialized():
        package_parent = str(Path(__file__).resolve().parents[2])
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join([package_parent, os.environ.get("PYTHONPATH", "")])}}
        if address == "local":
            ray.init(num_cpus=os.cpu_count() or 2, include_dashboard=False, runtime_env=env,
                     log_to_driver=False)
        else:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray


def _run_ray(spec: ProposeSpec, tasks: Iterator[ImageTask], address: str,
             in_flight: int) -> Iterator[ImageResult]:
    """Results in completion order, the per-image work running as Ray tasks."""
    ray = _ray_init(address)
    remote = ray.remote(propose_one)
    spec_ref = ray.put(spec)
    pending: list = []
    for task in tasks:
        pending.append(remote.remote(spec_ref, task))
        if len(pending) >= in_flight:
            finished, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(finished)
    while pending:
        finished, pending = ray.wait(pending, num_returns=1)
        yield from ray.get(finished)


@dataclass
class JobSummary:
    """What a run did: ``images`` processed now, ``proposals`` stored, ``skipped`` (already done)."""

    images: int
    proposals: int
    skipped: int


def run_propose_job(project: str | os.PathLike, spec: ProposeSpec, *, pattern: str | None = None,
                    workers: int = 1, ray_address: str | None = None,
                    on_image: Callable[[int, int], None] | None = None,
                    total_known: Callable[[int], None] | None = None) -> JobSummary:
    """Propose masks on every image of ``project`` not done yet; resumable at any point.

    Parameters
    ----------
    project : the project file or its folder (opened for writing: one writer).
    spec : engine, model and :class:`ProposalConfig` options.
    pattern : glob on image paths (relative to the project root) or file names.
    workers : local worker processes (1: in this process).
    ray_address : run the per-image work on Ray (``"local"`` or a cluster address).
    on_image : called as ``on_image(image_id, n_proposals)`` after each image is stored.
    total_known : called once with the number of images to process.
    """
    with ProjectStore.open(project) as store:
        all_count = len(store.images())
        todo = images_to_do(store, pattern)
        if total_known is not None:
            total_known(len(todo))
        tasks = (_task(store, r) for r in todo)
        if ray_address:
            results = _run_ray(spec, tasks, ray_address, in_flight=max(2 * max(workers, 1), 4))
        else:
            results = _run_local(spec, tasks, workers)
        images = proposals = 0
        for result in results:
            n = store_result(store, result, spec)
            images += 1
            proposals += n
            if on_image is not None:
                on_image(result.image_id, n)
        skipped = all_count - len(todo) if pattern is None else len(done_image_ids(store)) - images
    return JobSummary(images, proposals, max(skipped, 0))


def proposals_as_instances(image_id: int, proposals: list[Any], first_z: int = 0) -> list[Instance]:
    """:class:`~segtool.engines.proposals.Proposal` objects -> pending instances (ids to be assigned)."""
    return [Instance.from_mask(np.asarray(p.mask, bool), id=0, image_id=image_id, class_id=None,
                               score=float(p.score), source="proposal", state="pending", z=first_z + k)
            for k, p in enumerate(proposals)]
