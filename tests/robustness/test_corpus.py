"""The fixed corpus of hand-made bad inputs: every case meets the contract of :mod:`rb_contract`."""

from __future__ import annotations

import pytest

from rb_contract import STATS, assert_refused, file_digest, run_in_process, run_subprocess, tree_state
from rb_corpus import CORPUS, Case
from rb_env import Env, env  # noqa: F401 - the fixture

NATIVE = [case for case in CORPUS if case.native]


def _check(env: Env, case: Case, runner) -> None:  # noqa: F811 - env is the fixture's value
    argv, names = case.make(env)
    project = next((env.work / a for a in argv[1:2] if a.endswith(".segtool")), env.project)
    out = env.work / argv[2] if argv[0] == "export" else None
    digest = file_digest(project)
    out_before = tree_state(out) if out is not None and out.is_dir() else None
    if out is not None and out.exists() and not out.is_dir():
        out_before = None
        out = None  # OUT is a file: it belongs to the tree checked below
    before = tree_state(env.work, ignore=out)
    result = runner(*argv)
    assert_refused(result, names=names, project=project, digest=digest, workdir=env.work, before=before,
                   out=out, out_before=out_before, expect=case.expect, case=case.id)


def test_the_corpus_has_at_least_100_cases() -> None:
    assert len(CORPUS) >= 100 and len({c.id for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_bad_input_in_process(env: Env, case: Case) -> None:  # noqa: F811
    _check(env, case, run_in_process)
    STATS.in_process += 1


@pytest.mark.parametrize("case", NATIVE, ids=[c.id for c in NATIVE])
def test_bad_input_reaching_native_code_in_a_subprocess(env: Env, case: Case) -> None:  # noqa: F811
    """A missing check here would be a segfault (negative return code), which only a real process shows."""
    _check(env, case, run_subprocess)
    STATS.subprocesses += 1
