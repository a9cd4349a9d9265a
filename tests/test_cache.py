"""vaelib._cache: keys that follow the code and the data, atomic and concurrent writes,
and loads that never unpickle arbitrary objects."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from vaelib import _cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    return tmp_path


def test_source_hash_follows_the_imports_of_the_named_modules(tmp_path, monkeypatch):
    # a fake package: top imports middle (relative, inside a function) and middle imports
    # leaf; editing the leaf changes the hash of top, editing an unrelated file does not
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "top.py").write_text("def f():\n    from .sub import middle\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "middle.py").write_text("from ..leaf import g\n")
    (pkg / "leaf.py").write_text("def g():\n    return 1\n")
    (pkg / "other.py").write_text("x = 1\n")
    monkeypatch.setattr(_cache, "_PACKAGE_ROOT", pkg)

    def fresh_hash():
        _cache.source_hash.cache_clear()
        return _cache.source_hash("top")

    first = fresh_hash()
    (pkg / "other.py").write_text("x = 2\n")
    assert fresh_hash() == first
    (pkg / "leaf.py").write_text("def g():\n    return 2\n")
    assert fresh_hash() != first
    _cache.source_hash.cache_clear()


def test_the_key_covers_configuration_data_and_code():
    X = np.arange(12.0).reshape(3, 4)
    base = _cache.cache_key({"a": 1}, code=("train",), data=(X,))
    assert base == _cache.cache_key({"a": 1}, code=("train",), data=(X.copy(),))
    assert base != _cache.cache_key({"a": 2}, code=("train",), data=(X,))
    assert base != _cache.cache_key({"a": 1}, code=("bayes",), data=(X,))
    X2 = X.copy()
    X2[0, 0] += 1e-9
    assert base != _cache.cache_key({"a": 1}, code=("train",), data=(X2,))
    assert base != _cache.cache_key({"a": 1}, code=("train",), data=(X.astype(np.float32),))
    # tensors and arrays with the same bytes have the same fingerprint
    assert _cache.data_fingerprint(torch.tensor(X)) == _cache.data_fingerprint(X)


def test_cached_computes_once_then_loads(cache):
    calls = []

    def compute():
        calls.append(1)
        return {"w": torch.arange(3.0), "note": "hello", "values": [1.5, 2.5]}

    first, hit = _cache.cached("unit", "demo", {"n": 3}, compute, code=("train",))
    assert not hit and len(calls) == 1
    again, hit = _cache.cached("unit", "demo", {"n": 3}, compute, code=("train",))
    assert hit and len(calls) == 1
    assert torch.equal(again["w"], first["w"]) and again["note"] == "hello"
    assert not list((cache / "unit").glob("*.tmp"))
    _, hit = _cache.cached("unit", "demo", {"n": 3}, compute, code=("train",), enabled=False)
    assert not hit and len(calls) == 2
    assert not list((cache / "unit").glob("*.tmp"))


class Malicious:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_pickled_object_is_never_executed(cache, capsys, monkeypatch):
    monkeypatch.chdir(cache)
    path = _cache.cache_file("unit", "demo", _cache.cache_key({}, code=("train",)))
    path.parent.mkdir(parents=True)
    torch.save({"payload": Malicious()}, path)
    result, hit = _cache.cached("unit", "demo", {}, lambda: {"ok": 1}, code=("train",))
    assert result == {"ok": 1} and not hit
    assert not (cache / "pwned.txt").exists()
    assert "computing it again" in capsys.readouterr().err


_WORKER = textwrap.dedent("""
    import sys, time, torch
    from vaelib import _cache

    def compute():
        with open(sys.argv[1], "a") as fh:
            fh.write("computed\\n")
        time.sleep(1.5)                      # long enough for the other process to arrive
        return {"w": torch.arange(1000.0) * 2, "who": sys.argv[2]}

    result, hit = _cache.cached("unit", "race", {"k": 1}, compute, code=("train",))
    assert torch.equal(result["w"], torch.arange(1000.0) * 2)
    print(result["who"], hit)
""")


def test_two_processes_on_the_same_key_both_get_a_valid_result(cache, tmp_path):
    log = tmp_path / "computations.log"
    env = {**os.environ, "VAEBOOK_CACHE": str(cache)}
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(log), name], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("first", "second")]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    lines = sorted(out.split() for out, _ in outputs)
    # one computed and stored; the other waited on the lock and loaded that result
    assert log.read_text().count("computed") == 1
    assert {tuple(line) for line in lines} in ({("first", "False"), ("first", "True")},
                                               {("second", "False"), ("second", "True")})
    assert len(list((cache / "unit").glob("race-*.pt"))) == 1
