"""How long does a chapter's Run All take in a lecturer's live kernel, and where does it go?

For each notebook, the chapter is executed top to bottom in a kernel that looks like
one JupyterLab starts (``JPY_SESSION_NAME`` set, ``VAEBOOK_FRAMES`` unset, the working
directory the notebook's folder), with a warm model cache, and prints:

- ``run all``: from the first cell sent until the last cell finished (kernel start-up
  excluded, as when a lecturer presses Run All in an open notebook);
- ``explore``: the time spent in cells that call ``explore`` (how many in brackets);
- ``1st fig``: for the slowest ``explore`` cell, the time from its start until its
  figure arrived at the front end (the worst wait for a figure); it includes what the
  cell computes before calling ``explore``;
- ``frame 1``: of that, the longest time ``explore`` took to draw a first frame
  (``Explorer.first_frame_seconds``; not recorded before the lazy mode existed);
- ``ready``: from the first cell until every frame of every slider was drawn (in the
  background, in lazy mode; equal to ``run all`` when frames are drawn in the cell).

``--ref REF`` runs the same measurement on another commit, checked out into a temporary
git worktree (removed afterwards), alternating with this working tree notebook by
notebook, and prints both side by side: the kernel imports that checkout's ``vaelib``
(it is put first on ``PYTHONPATH``; the script checks). Each notebook is run once
untimed first (``--no-warmup`` skips that), so trained models are in the cache
(``VAEBOOK_CACHE``) when the timed run starts. Timings on a shared machine are noisy:
compare within one run, and use ``--repeat`` for medians. The five slowest cells of each
notebook go to stderr: where a chapter's own computation (not its sliders) takes time.

Run: .venv/bin/python benchmarks/bench_run_all.py --ref b37c1df [chapters/NN_topic.ipynb ...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]

# Appended to the measured notebook, outside the timing: waits for every explorer's
# frames (Explorer.frames blocks until all are drawn) and says which vaelib ran.
PROBE = """\
import sys as _sys
_w = _sys.modules.get("vaelib.widgets")
_explorers = [v for v in [*globals().values(), *Out.values()]
              if _w is not None and isinstance(v, _w.Explorer)]
for _e in _explorers:
    _e.frames
print(_sys.modules["vaelib"].__file__)
print(max((getattr(_e, "first_frame_seconds", float("nan")) for _e in _explorers),
          default=0.0))
"""


class TimedClient(NotebookClient):
    """nbclient that records when each cell starts, ends and shows its first output."""

    def __init__(self, nb, **kw):
        super().__init__(nb, **kw)
        self.started, self.ended, self.first_output = {}, {}, {}
        self.on_cell_execute = lambda cell, cell_index: self.started.__setitem__(
            cell_index, time.perf_counter())
        self.on_cell_executed = lambda cell, cell_index, execute_reply: self.ended.__setitem__(
            cell_index, time.perf_counter())

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] in ("display_data", "execute_result"):
            self.first_output.setdefault(cell_index, time.perf_counter())
        return super().output(outs, msg, display_id, cell_index)


def run_notebook(path: Path, checkout: Path) -> dict:
    """Execute ``path`` as a live kernel would; return the timings of its cells."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    env = {k: v for k, v in os.environ.items() if k != "VAEBOOK_FRAMES"}
    env["JPY_SESSION_NAME"] = str(path)  # what a Jupyter server sets for its kernels
    env["PYTHONPATH"] = os.pathsep.join([str(checkout), env.get("PYTHONPATH", "")])
    client = TimedClient(nb, timeout=600, kernel_name="python3",
                         resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    probe = len(nb.cells) - 1
    vaelib_file, first_frame = "".join(
        o.get("text", "") for o in nb.cells[probe].outputs).split()
    if not Path(vaelib_file).resolve().is_relative_to(checkout.resolve()):
        raise RuntimeError(f"{path} ran vaelib from {vaelib_file}, not from {checkout}")
    cells = [i for i in range(probe) if nb.cells[i].cell_type == "code"]
    first, last = client.started[cells[0]], client.ended[cells[-1]]
    explore = [i for i in cells if "explore(" in nb.cells[i].source]
    waits = [client.first_output.get(i, client.ended[i]) - client.started[i] for i in explore]
    slowest = sorted(((client.ended[i] - client.started[i], i) for i in cells), reverse=True)
    return {"slowest": [(round(t, 2), i, nb.cells[i].source.strip().splitlines()[0][:60])
                        for t, i in slowest[:5]],
            "run all": last - first,
            "explore": sum(client.ended[i] - client.started[i] for i in explore),
            "n_explore": len(explore),
            "1st fig": max(waits, default=0.0),
            "frame 1": float(first_frame),
            "ready": max(client.ended[probe] - first, last - first)}


@contextmanager
def checkout_of(ref: str | None):
    """The book's root for ``ref`` (None: this working tree, as it is)."""
    if ref is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="vaebook-bench-") as tmp:
        path = Path(tmp) / "book"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet",
                        str(path), ref], check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(path)], check=False)


def measure(checkouts: dict[str, Path], notebooks: list[str], warmup: bool,
            repeat: int) -> dict[str, dict]:
    """Timings per checkout and notebook; the checkouts alternate notebook by notebook,
    so a change in the machine's load hits both alike."""
    results: dict[str, dict] = {label: {} for label in checkouts}
    for rel in notebooks:
        present = {label: path / rel for label, path in checkouts.items()
                   if (path / rel).exists()}
        if warmup:
            for label, path in present.items():
                run_notebook(path, checkouts[label])
        runs: dict[str, list] = {label: [] for label in present}
        for _ in range(repeat):
            for label, path in present.items():
                runs[label].append(run_notebook(path, checkouts[label]))
        for label, timed in runs.items():
            results[label][rel] = {k: statistics.median(r[k] for r in timed)
                                   for k in timed[0] if k != "slowest"}
            print(f"  {label} {rel}: " + ", ".join(
                f"{k} {v:.3g}" for k, v in results[label][rel].items()), file=sys.stderr)
            for seconds, index, line in timed[-1]["slowest"]:
                print(f"      cell {index:3d}: {seconds:6.2f} s  {line}", file=sys.stderr)
    return results


def table(now: dict, before: dict | None, ref: str | None) -> str:
    cols = ["run all", "explore", "1st fig", "frame 1", "ready"]
    head = f"{'notebook':26s}" + "".join(f"{c + ' (s)':>22s}" for c in cols)
    sub = f"{'':26s}" + "".join(f"{(ref or '') + ' -> now':>22s}" for _ in cols)
    lines = [head, sub] if before is not None else [head]
    for rel, r in now.items():
        name = Path(rel).stem + f" [{r['n_explore']}]"
        cells = []
        for c in cols:
            if before is not None and rel in before:
                b = before[rel][c]
                ratio = f" ({r[c] / b:.2f}x)" if c == "run all" and b else ""
                cells.append(f"{b:8.1f} -> {r[c]:5.1f}{ratio}")
            else:
                cells.append(f"{r[c]:.1f}")
        lines.append(f"{name:26s}" + "".join(f"{c:>22s}" for c in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks relative to the book root "
                        "(default: every chapter)")
    parser.add_argument("--ref", help="also measure this git commit (e.g. b37c1df)")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the untimed first run of each notebook")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs (median)")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "chapters").glob("*.ipynb"))
    print(f"cores: {len(os.sched_getaffinity(0))}, VAEBOOK_CACHE="
          f"{os.environ.get('VAEBOOK_CACHE', '~/.cache/vae-book')}", file=sys.stderr)
    with checkout_of(args.ref) as ref_path:
        checkouts = {"now": ROOT} if args.ref is None else {args.ref: ref_path, "now": ROOT}
        results = measure(checkouts, notebooks, args.warmup, args.repeat)
    print(table(results["now"], results.get(args.ref), args.ref))


if __name__ == "__main__":
    main()
