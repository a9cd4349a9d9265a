"""Checkers for the book's exercises.

``check("bayes-1", answer)`` looks up the checker registered under that key in the
chapter module named by the prefix (``vaelib.exercises.bayes`` for ``"bayes-…"``),
runs it and prints a one-line verdict: right, or what is off. It returns ``True`` or
``False`` so a notebook can ``assert`` on it.

A chapter module registers its checkers with :func:`checker`::

    from vaelib.exercises import checker

    @checker("bayes-1")
    def _(answer):
        ...
        return True, "Right: ..."   # or False, "Not quite: ... (hint)"
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_CHECKERS: dict[str, Callable[[Any], tuple[bool, str]]] = {}


def checker(key: str):
    """Register ``func(answer) -> (ok, message)`` as the checker of exercise ``key``."""
    def register(func):
        _CHECKERS[key] = func
        return func
    return register


def available() -> list[str]:
    """Keys of all registered checkers (importing every chapter module)."""
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return sorted(_CHECKERS)


def check(key: str, answer: Any) -> bool:
    """Check ``answer`` to exercise ``key``, print the verdict and return it."""
    if not isinstance(key, str) or "-" not in key:
        raise ValueError(f"exercise keys look like 'bayes-1', got {key!r}.")
    module = key.rsplit("-", 1)[0].replace("-", "_")
    if key not in _CHECKERS:
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError:
            pass
    if key not in _CHECKERS:
        raise ValueError(f"no exercise {key!r}; known exercises: {', '.join(available())}.")
    try:
        ok, message = _CHECKERS[key](answer)
    except Exception as exc:  # an answer of the wrong type or shape: a verdict, not a crash
        ok, message = False, (f"Could not check this answer ({type(exc).__name__}: {exc}). "
                              "Read the exercise again for what to pass: a number, a tuple "
                              "of numbers, an array of a given shape, or a function.")
    print(("✔ " if ok else "✘ ") + message)
    return bool(ok)
