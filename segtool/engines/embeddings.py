"""Embedding cache: an in-RAM LRU in front of an on-disk cache (fp16) under the user cache folder.

Keys are built by :func:`embedding_key` from the image content hash, the model id and the
preprocessing version, so a new model or a changed preprocessing never reads a stale entry.

On disk, one file per key (``<key>.emb``): a fixed header (magic, version, payload length,
blake2b digest of the payload, shape) followed by the float16 payload. A file whose header or
digest does not match is deleted and reported as a miss, so the caller recomputes it. Files are
written to a temporary name and renamed, so a crash never leaves a half-written entry. The total
size on disk is capped; the least recently used files (by modification time, refreshed on every
hit) are evicted first.

All methods are thread-safe: the GUI prefetches the next image's embedding in a worker thread
while the user clicks on the current one.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from segtool.core.paths import cache_dir

_MAGIC = b"SGTEMB1\0"
#: magic, payload bytes, digest (16 bytes), ndim, then up to 6 dims.
_HEADER = struct.Struct("<8sQ16sI6I")
_DEFAULT_DISK_BYTES = 2 * 1024**3
_DEFAULT_RAM_BYTES = 256 * 1024**2


def embedding_key(content_hash: str, model_id: str, preprocess_version: str) -> str:
    """A file-name-safe key (hex) for one image under one model and preprocessing."""
    text = f"{content_hash}|{model_id}|{preprocess_version}"
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


class EmbeddingCache:
    """Two-level cache of float32 embeddings.

    Parameters
    ----------
    directory : folder for the on-disk level; ``cache_dir()/embeddings`` when None.
    max_disk_bytes : cap of the on-disk level (LRU eviction); 0 disables the disk level.
    max_ram_bytes : cap of the in-RAM level (LRU eviction).
    """

    def __init__(self, directory: Path | None = None, *, max_disk_bytes: int = _DEFAULT_DISK_BYTES,
                 max_ram_bytes: int = _DEFAULT_RAM_BYTES) -> None:
        self.directory = Path(directory) if directory is not None else cache_dir() / "embeddings"
        self.max_disk_bytes = int(max_disk_bytes)
        self.max_ram_bytes = int(max_ram_bytes)
        self._ram: OrderedDict[str, np.ndarray] = OrderedDict()
        self._ram_bytes = 0
        self._lock = threading.RLock()
        self._key_locks: dict[str, threading.Lock] = {}
        #: Counters for tests and benchmarks: ram_hits, disk_hits, misses, corrupt.
        self.stats = {"ram_hits": 0, "disk_hits": 0, "misses": 0, "corrupt": 0}

    # -- public API ---------------------------------------------------------------------------
    def get(self, key: str) -> np.ndarray | None:
        """The float32 embedding for ``key`` (RAM, then disk), or None on a miss."""
        with self._lock:
            if key in self._ram:
                self._ram.move_to_end(key)
                self.stats["ram_hits"] += 1
                return self._ram[key]
        array = self._read_disk(key)
        with self._lock:
            if array is None:
                self.stats["misses"] += 1
                return None
            self.stats["disk_hits"] += 1
            self._remember(key, array)
        return array

    def put(self, key: str, array: np.ndarray) -> None:
        """Store ``array`` (any float dtype; kept float32 in RAM, float16 on disk)."""
        array = np.ascontiguousarray(array, dtype=np.float32)
        with self._lock:
            self._remember(key, array)
        if self.max_disk_bytes > 0:
            self._write_disk(key, array)
            self._evict_disk()

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
        """``(embedding, was_cached)``; computes at most once per key even from several threads."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            cached = self.get(key)
            if cached is not None:
                return cached, True
            array = np.ascontiguousarray(compute(), dtype=np.float32)
            self.put(key, array)
            return array, False

    def clear(self, *, disk: bool = True) -> None:
        """Forget every entry (and delete the files when ``disk``)."""
        with self._lock:
            self._ram.clear()
            self._ram_bytes = 0
            if disk and self.directory.is_dir():
                for path in self.directory.glob("*.emb"):
                    path.unlink(missing_ok=True)

    def path_for(self, key: str) -> Path:
        """The on-disk file of ``key``."""
        return self.directory / f"{key}.emb"

    def disk_bytes(self) -> int:
        """Total bytes of the on-disk entries."""
        return sum(p.stat().st_size for p in self.directory.glob("*.emb")) if self.directory.is_dir() else 0

    # -- internals ----------------------------------------------------------------------------
    def _remember(self, key: str, array: np.ndarray) -> None:
        if key in self._ram:
            self._ram_bytes -= self._ram.pop(key).nbytes
        if array.nbytes > self.max_ram_bytes:
            return
        self._ram[key] = array
        self._ram_bytes += array.nbytes
        while self._ram_bytes > self.max_ram_bytes and self._ram:
            _, old = self._ram.popitem(last=False)
            self._ram_bytes -= old.nbytes

    def _write_disk(self, key: str, array: np.ndarray) -> None:
        payload = array.astype(np.float16).tobytes()
        if array.ndim > 6:
            return
        dims = list(array.shape) + [0] * (6 - array.ndim)
        digest = hashlib.blake2b(payload, digest_size=16).digest()
        header = _HEADER.pack(_MAGIC, len(payload), digest, array.ndim, *dims)
        path = self.path_for(key)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(header)
                fh.write(payload)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full or read-only disk only costs a recomputation

    def _read_disk(self, key: str) -> np.ndarray | None:
        path = self.path_for(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        array = _decode_entry(data)
        if array is None:
            with self._lock:
                self.stats["corrupt"] += 1
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)  # LRU order on disk = modification time
        except OSError:
            pass
        return array

    def _evict_disk(self) -> None:
        with self._lock:
            try:
                entries = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.directory.glob("*.emb")]
            except OSError:
                return
            total = sum(size for _, size, _ in entries)
            for _, size, path in sorted(entries, key=lambda e: e[0]):
                if total <= self.max_disk_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size


def _decode_entry(data: bytes) -> np.ndarray | None:
    """The float32 array of one file's bytes, or None when header or digest do not match."""
    if len(data) < _HEADER.size:
        return None
    magic, length, digest, ndim, *dims = _HEADER.unpack_from(data)
    payload = memoryview(data)[_HEADER.size:]
    if magic != _MAGIC or ndim > 6 or length != len(payload):
        return None
    shape = tuple(dims[:ndim])
    if int(np.prod(shape)) * 2 != length:
        return None
    if hashlib.blake2b(payload, digest_size=16).digest() != digest:
        return None
    return np.frombuffer(payload, np.float16).reshape(shape).astype(np.float32)


_default_cache: EmbeddingCache | None = None
_default_lock = threading.Lock()


def default_cache() -> EmbeddingCache:
    """The process-wide cache under the current ``cache_dir()`` (re-created if that folder changed)."""
    global _default_cache
    with _default_lock:
        wanted = cache_dir() / "embeddings"
        if _default_cache is None or _default_cache.directory != wanted:
            _default_cache = EmbeddingCache(wanted)
        return _default_cache
