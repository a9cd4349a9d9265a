"""What the tests of the built site share: skip-or-fail policy, Chromium, playwright (and the PDF test the policy)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: Under CI=true a browser test that cannot run fails instead of skipping.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: Chromium flags for this closed network (no background connections, no sandbox as root).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def missing(reason: str, what: str = "browser test"):
    """Skip the test with ``reason``, or fail it under CI, where it must run."""
    if IN_CI:
        pytest.fail(f"{what} cannot run in CI: {reason}")
    pytest.skip(reason)


def chromium_executable() -> str:
    """Path of Debian's chromium (skip or fail when it is not installed)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    missing("Debian's chromium is not installed; run `make browser-deps`")


def sync_playwright():
    """playwright's ``sync_playwright`` (skip or fail when playwright is missing)."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        missing("playwright is not installed in this environment")
    return start()


def is_redirect(page: Path) -> bool:
    """A page that only forwards (the site's index.html): no theme, no language, no switcher."""
    return 'http-equiv="Refresh"' in page.read_text(encoding="utf8")
