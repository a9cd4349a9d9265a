"""The library's shape: imports follow the book, and no file grows past ~700 lines.

The chapter of each vaelib module is read from the table in CONTRIBUTING.md (so the
documentation and this test cannot drift apart); the imports are read from the source
with ``ast`` (every import, also those inside functions), by the same resolver the cache
uses to hash the code that produced a result.
"""
import re
from pathlib import Path

import pytest

from vaelib import _cache

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vaelib"
#: Modules of no chapter: they may import only each other.
NEUTRAL = {"", "_validation", "_gaussian", "_cache", "_frames", "widgets", "plotting", "exercises"}
MAX_LINES = 700


def chapter_table():
    """{module: chapter number} and {exercise prefix: chapter number} from CONTRIBUTING.md."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    modules, prefixes = {}, {}
    for row in re.finditer(r"^\| `chapters/(\d\d)_\w+\.ipynb` \| `(\w+)` \| (.+?) \|$", text,
                           re.MULTILINE):
        chapter = int(row.group(1))
        prefixes[row.group(2)] = chapter
        for name in re.findall(r"`([\w.]+)`", row.group(3)):
            modules[name] = chapter
    return modules, prefixes


def module_names():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def chapter_of(name, modules, prefixes):
    """The chapter a module belongs to; 0 for the neutral ones, None if unknown."""
    top = name.split(".")[0] if name else ""
    if name.startswith("exercises.") and name.split(".")[1] in prefixes:
        return prefixes[name.split(".")[1]]
    if top in NEUTRAL or name in NEUTRAL:
        return 0
    return modules.get(top)


def test_the_table_lists_every_chapter_module():
    modules, prefixes = chapter_table()
    assert sorted(set(prefixes.values())) == [1, 2, 3, 4, 5, 6]
    for name, path in module_names():
        if name.startswith("exercises.") and name.split(".")[1] == "howto":
            continue                                   # the how-to page's example
        assert chapter_of(name, modules, prefixes) is not None, (
            f"{path.relative_to(ROOT)} belongs to no chapter: add it to the table in "
            "CONTRIBUTING.md or make it a neutral private module (_name)")


@pytest.mark.parametrize("name, path", list(module_names()), ids=lambda v: str(v))
def test_imports_run_only_backwards_in_the_book(name, path):
    modules, prefixes = chapter_table()
    own = chapter_of(name, modules, prefixes) or 0
    for imported in _cache._imported_modules(name, path.read_text()):
        theirs = chapter_of(imported, modules, prefixes)
        if theirs is None:
            continue                                    # e.g. vaelib.exercises.howto
        if own == 0:
            assert theirs == 0, (f"the neutral module vaelib.{name} imports vaelib.{imported} "
                                 f"(chapter {theirs}): neutral modules must not depend on "
                                 "a chapter")
        else:
            assert theirs <= own, (f"vaelib.{name} (chapter {own}) imports vaelib.{imported} "
                                   f"(chapter {theirs}), which the reader has not met yet")


@pytest.mark.parametrize("name, path", list(module_names()), ids=lambda v: str(v))
def test_no_library_file_is_longer_than_about_700_lines(name, path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines; split it by topic"


def test_the_resolver_sees_relative_and_absolute_imports(tmp_path, monkeypatch):
    # the check above is only as good as the import resolver: test it on a fake package
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for f in ("__init__.py", "a.py", "b.py", "sub/__init__.py", "sub/c.py"):
        (pkg / f).write_text("")
    monkeypatch.setattr(_cache, "_PACKAGE_ROOT", pkg)
    source = ("from . import a\nfrom .b import thing\nimport vaelib.sub.c\n"
              "def f():\n    from .sub import c\n")
    assert _cache._imported_modules("a", source) >= {"a", "b", "sub", "sub.c"}
    assert _cache._imported_modules("sub.c", "from .. import b\nfrom ..a import x\n") >= \
        {"b", "a"}
