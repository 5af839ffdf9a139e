"""Schema 2: ``instances.iscrowd`` and ``classes.source_id`` (issue 13), and the migration from 1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from segtool.core.document import ImageRecord, Instance
from segtool.store import schema
from segtool.store.sqlite import ProjectStore


def test_iscrowd_and_source_id_read_back(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path) as store:
        (rec,) = store.add_images([ImageRecord(0, "a.png", 8, 6, "h")])
        people = store.add_class("person", source_id=1)
        plain = store.add_class("tree")
        m = np.zeros((6, 8), bool)
        m[1:4, 2:6] = True
        (inst,) = store.add_instances(rec.id, [Instance.from_mask(m, id=0, image_id=rec.id,
                                                                  class_id=people.id, iscrowd=True)])
        store.set_class_source_id(plain.id, 0)
    with ProjectStore.open(tmp_path, readonly=True) as store:
        assert store.instance(inst.id).iscrowd is True
        assert [(c.name, c.source_id) for c in store.classes()] == [("person", 1), ("tree", 0)]
        assert store.class_by_name("person").source_id == 1


def test_a_schema_1_project_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.segtool"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    schema._v1(db)
    db.execute("INSERT INTO meta VALUES ('root', '\".\"')")
    db.execute("INSERT INTO classes(name, color) VALUES ('cat', '#ff0000')")
    db.execute("INSERT INTO images(path, width, height, content_hash) VALUES ('a.png', 2, 2, 'h')")
    db.execute("INSERT INTO instances(image_id, class_id, h, w, counts, x0, y0, x1, y1, area, source) "
               "VALUES (1, 1, 2, 2, '04', 0, 0, 2, 2, 4, 'brush')")
    db.execute("COMMIT")
    db.close()
    with ProjectStore.open(path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        assert store.classes()[0].source_id is None and store.classes()[0].name == "cat"
        (inst,) = store.instances(1)
        assert inst.iscrowd is False and inst.area == 4
