"""Embedding cache: fp16 round trip, LRU eviction (RAM and disk), corrupt entries, threads."""

from __future__ import annotations

import threading

import numpy as np

from segtool.engines.embeddings import EmbeddingCache, default_cache, embedding_key


def _emb(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (1, 256, 64, 64)).astype(np.float32)


def test_disk_round_trip_is_fp16_close(tmp_path):
    cache = EmbeddingCache(tmp_path)
    key = embedding_key("img", "model", "pre-1")
    cache.put(key, _emb(0))
    fresh = EmbeddingCache(tmp_path)  # new process: nothing in RAM
    got = fresh.get(key)
    assert got is not None and got.dtype == np.float32 and got.shape == (1, 256, 64, 64)
    np.testing.assert_allclose(got, _emb(0), rtol=1e-3, atol=1e-3)
    assert fresh.stats["disk_hits"] == 1
    assert cache.path_for(key).stat().st_size < _emb(0).nbytes * 0.51  # stored as float16


def test_keys_differ_by_model_and_preprocessing():
    keys = {embedding_key("h", "m1", "p1"), embedding_key("h", "m2", "p1"), embedding_key("h", "m1", "p2")}
    assert len(keys) == 3


def test_corrupt_entry_is_dropped_and_recomputed(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("k", _emb(1))
    path = cache.path_for("k")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip a payload byte: the digest no longer matches
    path.write_bytes(bytes(data))
    fresh = EmbeddingCache(tmp_path)
    assert fresh.get("k") is None and fresh.stats["corrupt"] == 1 and not path.exists()
    calls = []
    value, cached = fresh.get_or_compute("k", lambda: calls.append(1) or _emb(1))
    assert not cached and calls == [1] and path.exists()
    path.write_bytes(b"SGTEMB1\0 truncated")
    assert EmbeddingCache(tmp_path).get("k") is None


def test_disk_cap_evicts_least_recently_used(tmp_path):
    one = _emb(0).astype(np.float16).nbytes + 200
    cache = EmbeddingCache(tmp_path, max_disk_bytes=int(2.5 * one))
    cache.put("a", _emb(0))
    cache.put("b", _emb(1))
    import os

    os.utime(cache.path_for("a"), (1, 1))
    os.utime(cache.path_for("b"), (2, 2))
    EmbeddingCache(tmp_path).get("a")  # a hit refreshes "a": "b" is now the oldest
    cache.put("c", _emb(2))
    assert cache.path_for("a").exists() and cache.path_for("c").exists()
    assert not cache.path_for("b").exists()
    assert cache.disk_bytes() <= cache.max_disk_bytes


def test_ram_lru_bounded(tmp_path):
    size = _emb(0).nbytes
    cache = EmbeddingCache(tmp_path, max_ram_bytes=2 * size, max_disk_bytes=0)
    for i, key in enumerate("abc"):
        cache.put(key, _emb(i))
    assert cache.get("a") is None  # evicted from RAM, disk level disabled
    assert cache.get("c") is not None and cache.stats["ram_hits"] == 1


def test_concurrent_get_or_compute_computes_once(tmp_path):
    cache = EmbeddingCache(tmp_path)
    calls = []
    barrier = threading.Barrier(6)

    def compute():
        calls.append(1)
        return _emb(3)

    results = []

    def worker():
        barrier.wait()
        results.append(cache.get_or_compute("same", compute)[0])

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 6
    assert all(np.array_equal(r, results[0]) for r in results)


def test_default_cache_lives_under_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGTOOL_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache().directory == tmp_path / "c" / "embeddings"
