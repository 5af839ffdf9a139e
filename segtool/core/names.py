"""The one name policy: class names and export file names, shared by the project and every exporter.

- :func:`check_class_name`: what a class may be called anywhere in segtool. Any printable Unicode
  (colons, ``#``, quotes, emoji included); no control characters (newline, tab, NUL), no line or
  paragraph separators (U+2028/U+2029, which split lines as a newline does), no lone surrogates or
  Unicode non-characters (U+FFFE, U+FFFF...: not allowed in XML), no leading/trailing white space,
  at most :data:`MAX_NAME_CHARS` characters. Every name that passes is written exactly by every
  exporter (JSON, XML escaped, YAML quoted) or refused by :func:`check_names_for_format`.
- :func:`check_names_for_format`: the few extra rules a file format imposes (VOC ``labelmap.txt``
  cannot hold ``:``, nor a name starting with ``#``); refused with one message naming the classes
  before anything is written.
- :func:`unique_stems`: flat file stems for relative image paths, unique by construction
  (case-insensitively and after Unicode normalisation, for Windows and macOS file systems), safe as
  file names (no separators, no control characters, at most 180 UTF-8 bytes).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from segtool.core.errors import FormatError
from segtool.core.safe_paths import describe, has_control_chars, is_valid_utf8

MAX_NAME_CHARS = 256
#: Longest stem in UTF-8 bytes (file systems allow 255 bytes for a name, suffix and counter included).
MAX_STEM_BYTES = 180
#: Characters a stem may keep as they are; anything else (spaces included) becomes ``_``.
_STEM_UNSAFE = re.compile(r"[^\w.\-+=@,()\[\]{}~]", re.UNICODE)
#: Unicode categories refused in names: controls, surrogates, line and paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def class_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a class name, or ``None`` when it can."""
    if not isinstance(name, str):
        return f"class name must be text, got {type(name).__name__}"
    if not name.strip():
        return "class name is empty"
    if not is_valid_utf8(name):
        return f"class name {describe(name)} is not valid Unicode (lone surrogate)"
    if has_control_chars(name):
        return f"class name {describe(name)} holds a newline, tab, NUL or other control character"
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES or _is_noncharacter(ch) for ch in name):
        return f"class name {describe(name)} holds a line separator or a Unicode non-character"
    if name != name.strip():
        return f"class name {describe(name)} starts or ends with white space"
    if len(name) > MAX_NAME_CHARS:
        return f"class name {describe(name)} is longer than {MAX_NAME_CHARS} characters"
    return None


def _is_noncharacter(ch: str) -> bool:
    code = ord(ch)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def check_class_name(name: object) -> str:
    """``name`` if it is a valid class name (see the module docstring), else :class:`FormatError`."""
    problem = class_name_problem(name)
    if problem:
        raise FormatError(problem)
    return name  # type: ignore[return-value]


#: Per export format: ``(test, reason)`` pairs a class name must pass in that format's files.
FORMAT_NAME_RULES: Mapping[str, tuple[tuple[object, str], ...]] = {
    "voc": ((lambda n: ":" not in n, "':' separates the fields of labelmap.txt"),
            (lambda n: not n.startswith("#"), "a line starting with '#' is a comment in labelmap.txt")),
    "labelme": ((lambda n: n not in ("_background_", "__ignore__"),
                 "labelme's converters read '_background_' as the background and '__ignore__' as void"),),
}


def check_names_for_format(names: Iterable[str], fmt: str) -> None:
    """Refuse, with one message naming every offending class, names ``fmt`` cannot hold exactly."""
    bad = []
    for name in names:
        problem = class_name_problem(name)
        if problem is None:
            for test, reason in FORMAT_NAME_RULES.get(fmt, ()):
                if not test(name):  # type: ignore[operator]
                    problem = f"class {describe(name)}: {reason}"
                    break
        if problem:
            bad.append(problem)
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise FormatError(f"cannot export to {fmt}: " + "; ".join(bad[:5]) + more
                          + "; rename these classes (nothing was written)")


def _stem(path: str, keep_suffix: bool) -> str:
    text = path if keep_suffix or "." not in path.rsplit("/", 1)[-1] else path.rsplit(".", 1)[0]
    text = unicodedata.normalize("NFC", text).replace("/", "__")
    text = _STEM_UNSAFE.sub("_", text).strip(" .") or "image"
    if text.split(".")[0].lower() in _WINDOWS_RESERVED:
        text = "_" + text
    data = text.encode("utf-8")
    if len(data) > MAX_STEM_BYTES:
        text = data[:MAX_STEM_BYTES].decode("utf-8", "ignore").rstrip(" .")
    return text


def _key(stem: str) -> str:
    """What file systems compare: case-folded and normalised (macOS folds NFD to NFC)."""
    return unicodedata.normalize("NFC", stem).casefold()


def unique_stems(paths: Iterable[str]) -> dict[str, str]:
    """Flat, unique, file-system-safe stems for relative image paths (no suffix).

    ``"a/b/c.png" -> "a__b__c"``. When two paths give the same stem, case-insensitively
    (``x.jpg``/``x.png``, ``sub/x.jpg``/``sub__x.jpg``), every one of them after the first (in sorted
    order) keeps its suffix, and a counter ``~2``, ``~3`` ... is added until the stem is free, so the
    result is unique whatever the input. The mapping depends only on the set of paths.
    """
    ordered = sorted(set(paths))
    out: dict[str, str] = {}
    taken: set[str] = set()
    wanted = {p: _stem(p, keep_suffix=False) for p in ordered}
    counts: dict[str, int] = {}
    for stem in wanted.values():
        counts[_key(stem)] = counts.get(_key(stem), 0) + 1
    for p in ordered:  # unambiguous stems first
        if counts[_key(wanted[p])] == 1:
            out[p] = wanted[p]
            taken.add(_key(wanted[p]))
    for p in ordered:
        if p in out:
            continue
        stem = wanted[p] if _key(wanted[p]) not in taken else _stem(p, keep_suffix=True).replace(".", "_")
        candidate, n = stem, 1
        while _key(candidate) in taken:
            n += 1
            candidate = f"{stem}~{n}"
        out[p] = candidate
        taken.add(_key(candidate))
    return out
