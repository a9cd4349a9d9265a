"""pytest configuration shared by the unit tests and the notebook tests (nbval)."""


def pytest_collectstart(collector):
    """Skip stderr when nbval compares notebook outputs.

    stderr carries only progress bars and timing chatter (training in a live kernel),
    which legitimately differ between a fresh run and a cached one. Every result a
    chapter states is printed to stdout or asserted, and those are compared.
    """
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
