"""The SQLite project: rows read back from the file, atomic transactions, migrations, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from segtool.core.commands import AddInstance, DeleteInstances, EditMask, Relabel, SetImageStatus
from segtool.core.document import DocumentEvent, ImageRecord, Instance
from segtool.core.errors import ProjectError
from segtool.core.history import History
from segtool.store import schema
from segtool.store.sqlite import ProjectStore


def _mask(h: int, w: int, box: tuple[int, int, int, int]) -> np.ndarray:
    m = np.zeros((h, w), bool)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = True
    return m


@pytest.fixture
def store(tmp_path: Path):
    (tmp_path / "imgs").mkdir()
    s = ProjectStore.create(tmp_path / "imgs")
    s.add_images([ImageRecord(0, "a.png", 40, 30, "ha"), ImageRecord(0, "sub/b.png", 40, 30, "hb")])
    yield s
    s.close()


def test_create_sets_wal_schema_and_root(store: ProjectStore, tmp_path: Path) -> None:
    assert store.path == tmp_path / "imgs" / "project.segtool"
    assert store.root == (tmp_path / "imgs").resolve()
    raw = sqlite3.connect(store.path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("SELECT version FROM schema_version").fetchone()[0] == schema.SCHEMA_VERSION
    raw.close()
    with pytest.raises(ProjectError, match="already exists"):
        ProjectStore.create(store.path)


def test_classes_images_instances_and_counts_read_back(store: ProjectStore) -> None:
    cat = store.add_class("cat")
    dog = store.add_class("dog", color=(1, 2, 3))
    assert cat.color != dog.color and store.class_by_name("dog") == dog
    with pytest.raises(ProjectError, match="already exists"):
        store.add_class("cat")
    assert store.update_class(cat.id, name="kitten").name == "kitten"
    assert [c.name for c in store.classes()] == ["kitten", "dog"]
    assert store.add_images([ImageRecord(0, "a.png", 1, 1, "x"), ImageRecord(0, "c.png", 5, 5, "hc")])[0].path == "c.png"
    assert store.image_by_path("sub/b.png").content_hash == "hb"
    a = store.image_by_path("a.png").id
    insts = store.add_instances(a, [
        Instance.from_mask(_mask(30, 40, (0, 0, 10, 10)), id=0, image_id=0, class_id=cat.id, score=0.5,
                           source="proposal", state="pending", attributes={"note": "x"}, z=1),
        Instance.from_mask(_mask(30, 40, (5, 5, 20, 25)), id=0, image_id=0, class_id=dog.id, z=0),
    ])
    back = store.instances(a)
    assert [i.id for i in back] == [insts[1].id, insts[0].id]  # z-ordered
    assert back[1].attributes == {"note": "x"} and back[1].score == 0.5 and back[1].bbox == (0, 0, 10, 10)
    assert np.array_equal(back[0].mask(), _mask(30, 40, (5, 5, 20, 25)))
    assert store.counts() == {"images": 3, "annotated_images": 1, "instances": 1, "classes": 2,
                              "pending_proposals": 1}
    store.set_instance_state([insts[0].id], "accepted")
    store.set_image_status(a, "done")
    assert store.counts()["instances"] == 2 and [i.path for i in store.images(status="done")] == ["a.png"]
    store.delete_instances([insts[1].id])
    assert store.instance(insts[1].id) is None and store.instance(insts[0].id).state == "accepted"


def test_transaction_is_atomic_and_nesting_safe(store: ProjectStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_class("a")
        store.meta_set("k", [1, 2])
        raise RuntimeError("import failed half way")
    assert store.classes() == [] and store.meta_get("k") is None
    with store.transaction():
        store.add_class("b")
        with pytest.raises(ProjectError), store.transaction():
            store.add_class("c")
            store.add_class("b")  # duplicate: only the inner level is undone
    assert [c.name for c in store.classes()] == ["b"]
    store.meta_set("current", {"image": 2})
    assert store.meta_get("current") == {"image": 2}


def test_document_edits_and_undo_are_durable(store: ProjectStore, tmp_path: Path) -> None:
    cls = store.add_class("cat").id
    doc = store.open_image(1)
    events: list[DocumentEvent] = []
    doc.subscribe(events.append)
    history = History(doc)
    iid = history.push(AddInstance(_mask(30, 40, (0, 0, 10, 10)), class_id=cls, source="sam")).instance_id
    history.push(EditMask(iid, np.ones((5, 5), bool), (10, 0, 15, 5), mode="add"))
    history.push(Relabel([iid], None))
    history.push(SetImageStatus("in-progress"))
    store.checkpoint()
    with ProjectStore.open(store.path, readonly=True) as reader:  # what another process sees now
        inst = reader.instance(iid)
        assert inst.area == 125 and inst.class_id is None and reader.image(1).status == "in-progress"
    history.undo()
    history.undo()
    with ProjectStore.open(store.path, readonly=True) as reader:
        assert reader.instance(iid).class_id == cls and reader.image(1).status == "todo"
    history.push(DeleteInstances([iid]))
    assert store.instance(iid) is None
    history.undo()
    assert store.instance(iid).area == 125
    assert [e.kind for e in events][:2] == ["added", "changed"]
    # ids are never reused, even after deleting the newest instance
    history.undo()
    history.undo()
    new = history.push(AddInstance(_mask(30, 40, (0, 0, 3, 3)), class_id=cls)).instance_id
    assert new > iid


def test_failed_command_rolls_back_file_and_document(store: ProjectStore) -> None:
    doc = store.open_image(1)
    history = History(doc)
    iid = history.push(AddInstance(_mask(30, 40, (0, 0, 10, 10)), class_id=None)).instance_id
    events: list[DocumentEvent] = []
    doc.subscribe(events.append)
    with pytest.raises(ProjectError):  # class 999 does not exist: the foreign key refuses it
        history.push(Relabel([iid], 999))
    assert doc.instance(iid).class_id is None and store.instance(iid).class_id is None
    assert events == [DocumentEvent("reset")] and len(history) == 1


def test_readonly_refuses_writes(store: ProjectStore) -> None:
    with ProjectStore.open(store.path, readonly=True) as reader:
        with pytest.raises(ProjectError, match="read-only"):
            reader.add_class("x")
        assert reader.integrity_check() == "ok"


def test_bad_files_are_project_errors(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="no segtool project"):
        ProjectStore.open(tmp_path)
    text = tmp_path / "notes.segtool"
    text.write_text("not a database, just text" * 100)
    with pytest.raises(ProjectError, match="not a readable segtool project"):
        ProjectStore.open(text)
    other = tmp_path / "other.segtool"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ProjectError, match="not a segtool project"):
        ProjectStore.open(other)


def test_migrations_run_and_newer_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.segtool"
    ProjectStore.create(path).close()

    def _v2(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE images ADD COLUMN note TEXT")

    newer = schema.SCHEMA_VERSION + 1
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _v2])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", newer)
    with ProjectStore.open(path) as s:
        cols = [r[1] for r in s._query("PRAGMA table_info(images)")]
        assert "note" in cols and s.schema_version == newer
    monkeypatch.undo()
    with pytest.raises(ProjectError, match="newer segtool"):
        ProjectStore.open(path)
