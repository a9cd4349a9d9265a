"""One cache for trained models and expensive results, shared by every chapter.

A result is stored under a key made of

* the **configuration** that produced it (a JSON-able dict: sizes, seeds, epochs, ...);
* a **fingerprint of the data** it was computed from (SHA-256 of the arrays' bytes);
* a **hash of the source code** of the vaelib modules that computed it, and of every
  vaelib module they import (so editing the training loop, the model or a kernel
  invalidates the result by itself, with no version number to bump);
* the torch version.

Files live in :func:`vaelib.cache_dir` (outside the repository). They are written
atomically (a temporary file in the same folder, renamed into place) and read with
``torch.load(weights_only=True)``, which never unpickles arbitrary objects: a stored
result is a dict of tensors, numbers, strings and lists. A lock file makes concurrent
computations of the same key wait for each other: the first process computes and
stores, the others then load its result.
"""
from __future__ import annotations

import ast
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

_PACKAGE_ROOT = Path(__file__).resolve().parent


def data_fingerprint(*arrays) -> str:
    """SHA-256 (hex, 16 digits) of arrays' dtypes, shapes and bytes, in order."""
    digest = hashlib.sha256()
    for a in arrays:
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:16]


def _module_file(name: str) -> Path | None:
    """Source file of the vaelib module ``name`` (dotted, relative to the package)."""
    base = _PACKAGE_ROOT.joinpath(*name.split(".")) if name else _PACKAGE_ROOT
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(name: str, source: str) -> set[str]:
    """vaelib modules that the source of module ``name`` imports (anywhere in it)."""
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(p for p in [*parts, node.module or ""] if p)
            elif node.module and node.module.split(".")[0] == "vaelib":
                base = node.module.partition(".")[2]
            else:
                continue
            found.add(base)
            found.update(f"{base}.{a.name}".lstrip(".") for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.partition(".")[2] for a in node.names
                         if a.name.split(".")[0] == "vaelib")
    return {m for m in found if _module_file(m) is not None}


def _is_package(name: str) -> bool:
    return (_PACKAGE_ROOT.joinpath(*name.split(".")) / "__init__.py").is_file() if name \
        else True


@functools.lru_cache(maxsize=None)
def source_hash(*modules: str) -> str:
    """SHA-256 (hex, 16 digits) of the source of vaelib ``modules`` and all they import.

    ``modules`` are names relative to the package (``"train"``, ``"vem.amortized"``).
    The closure over vaelib's own imports is followed through the source (``ast``), so
    the hash covers the code that can run, not only the named files.
    """
    todo, seen = list(modules), {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        file = _module_file(name)
        if file is None:
            raise ValueError(f"no vaelib module {name!r}")
        seen[name] = file.read_text(encoding="utf-8")
        todo.extend(_imported_modules(name, seen[name]) - set(seen))
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode() + b"\0" + seen[name].encode() + b"\0")
    return digest.hexdigest()[:16]


def cache_key(config: dict, *, code: Iterable[str], data: Iterable = ()) -> str:
    """The 16-hex-digit key of a result: configuration, data, code and torch version."""
    record = {"config": config, "data": data_fingerprint(*data),
              "code": source_hash(*sorted(code)), "torch": torch.__version__}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()
                          ).hexdigest()[:16]


def cache_file(kind: str, label: str, key: str) -> Path:
    """``cache_dir()/kind/label-key.pt``."""
    from . import cache_dir

    return Path(cache_dir()) / kind / f"{label}-{key}.pt"


def load(path: Path) -> dict | None:
    """The stored dict at ``path``, or None if absent or unreadable (a warning on stderr)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign: the caller computes it again
        sys.stderr.write(f"vaelib: cannot read cached {path.name} ({exc}); computing it "
                         "again.\n")
        return None


def save(path: Path, obj: dict) -> None:
    """torch.save into a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
        os.chmod(tmp, 0o644)   # mkstemp makes it private; the cache is a plain user cache
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on ``path.lock`` (released when the process ends, too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cached(kind: str, label: str, config: dict, compute: Callable[[], dict], *,
           code: Iterable[str], data: Iterable = (), enabled: bool = True
           ) -> tuple[dict, bool]:
    """Load the result of ``compute()`` for this key, or compute, store and return it.

    Parameters
    ----------
    kind : str
        Sub-folder of the cache (``"models"``, ``"gradients"``, ...).
    label : str
        Readable start of the file name.
    config : dict
        JSON-able configuration of the computation.
    compute : callable
        Returns a dict of tensors, numbers, strings and lists (what
        ``torch.load(weights_only=True)`` reads back).
    code : iterable of str
        vaelib modules whose source (with their imports) produced the result.
    data : iterable of arrays or tensors
        The data the result depends on.
    enabled : bool
        False: compute and return without reading or writing the cache.

    Returns
    -------
    result : dict
    from_cache : bool
    """
    if not enabled:
        return compute(), False
    path = cache_file(kind, label, cache_key(config, code=code, data=data))
    result = load(path)
    if result is not None:
        return result, True
    with _locked(path):
        result = load(path)               # another process may have finished meanwhile
        if result is not None:
            return result, True
        result = compute()
        save(path, result)
    return result, False
