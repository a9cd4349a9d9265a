"""Drawing the frames of a slider figure: all at once on every core, or in the background.

:func:`vaelib.widgets.explore` draws one PNG per combination of slider values, at
~0.1–0.2 s a frame (matplotlib), so a widget of 36 frames costs ~5 s on one core. Two
uses need different things from the same frames:

* the book build and nbval need **every** frame before the cell ends (the website's
  kernel-free slider embeds them all), byte for byte the same on every run;
* a lecturer's **live** kernel needs the first figure now and the others soon.

A draw function is a closure over the notebook's state (trained models, dicts of
precomputed numbers): it cannot be pickled into a fresh interpreter. A *forked* worker
inherits that state as it is at the moment of the call, draws its share of the frames
and sends the PNG bytes back through a pipe; a thread of the caller reads them. The
bytes do not depend on which process drew them (Agg is deterministic and draw functions
only plot), so parallel frames are the frames a single process would draw.

Forking is used on Linux only (macOS system libraries are not fork-safe once threads
run; Windows has no fork). Elsewhere frames are drawn in the calling process: all of
them at once, or each when a slider first reaches it.
"""
from __future__ import annotations

import io
import logging
import math
import os
import signal
import struct
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Key of the extra frame drawn at print resolution (the initial slider values).
PRINT_KEY = -1
#: Resolution of the print frame relative to the screen frames.
PRINT_SCALE = 2

_HEADER = struct.Struct("<iBI")  # key, ok, payload length
_REQUEST = struct.Struct("<i")
CAN_FORK = sys.platform.startswith("linux") and hasattr(os, "fork")


def render_png(plot: Callable[..., Any], figsize: tuple[float, float], dpi: int,
               **kwargs: Any) -> bytes:
    """Render ``plot(fig, **kwargs)`` into PNG bytes with the Agg backend.

    The figure is created here (no pyplot state, nothing shown), so the call is
    side-effect free and its bytes depend only on ``plot`` and its arguments. The image
    is stored with an adaptive 256-colour palette (median cut, no dithering): line plots
    and colour maps look the same and the frames are about three times smaller, which
    keeps the pages light (every frame of every slider is embedded in the page).
    """
    from PIL import Image

    fig = Figure(figsize=figsize, dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    plot(fig, **kwargs)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    image = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                         dither=Image.Dither.NONE)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def available_cores() -> int:
    """Cores this process may use: its affinity mask, capped by a cgroup CPU quota.

    Containers (Binder, JupyterHub, CI) often see every core of the host but may use
    only their quota (``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us`` in v1).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def _cgroup_cpu_quota() -> float | None:
    for path, parse in (("/sys/fs/cgroup/cpu.max", lambda t: t.split()),
                        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", lambda t: [
                            t.strip(), open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read()])):
        try:
            quota, period = parse(open(path).read())[:2]
            if quota not in ("max", "-1") and float(period) > 0:
                return float(quota) / float(period)
        except (OSError, ValueError):
            continue
    return None


def format_values(names: Sequence[str], values: Sequence[Any]) -> str:
    """``sigma=0.5, L=4``: slider values as a reader would type them."""
    return ", ".join(f"{n}={v!r}" for n, v in zip(names, values))


class FrameGrid:
    """What drawing needs: the plot function, the slider grid and the frame size.

    Frames are keyed by their row-major position ``flat`` in the grid (the order of
    ``itertools.product(*values)``); :data:`PRINT_KEY` is the initial combination drawn
    at ``PRINT_SCALE`` times the resolution, for the PDF.
    """

    def __init__(self, plot: Callable[..., Any], names: list[str], values: list[list],
                 figsize: tuple[float, float], dpi: int, initial: int):
        self.plot, self.names, self.values = plot, names, values
        self.figsize, self.dpi, self.initial = figsize, dpi, initial
        self.shape = [len(v) for v in values]
        self.size = int(np.prod(self.shape))

    def combination(self, key: int) -> tuple:
        flat = self.initial if key == PRINT_KEY else key
        return tuple(vals[i] for vals, i in
                     zip(self.values, np.unravel_index(flat, self.shape)))

    def render(self, key: int) -> bytes:
        """Draw frame ``key``; an error from the draw function says which values it had."""
        combo = self.combination(key)
        dpi = self.dpi * PRINT_SCALE if key == PRINT_KEY else self.dpi
        try:
            return render_png(self.plot, self.figsize, dpi, **dict(zip(self.names, combo)))
        except Exception as exc:
            name = getattr(self.plot, "__name__", "plot")
            exc.add_note(f"explore({name}, ...) was drawing the frame "
                         f"{name}(fig, {format_values(self.names, combo)}).")
            raise

    def order(self) -> list[int]:
        """Frame keys, nearest to the initial slider position first (moved to next)."""
        start = np.unravel_index(self.initial, self.shape)
        distance = {flat: sum(abs(a - b) for a, b in zip(np.unravel_index(flat, self.shape), start))
                    for flat in range(self.size)}
        return sorted(range(self.size), key=lambda flat: (distance[flat], flat))


class _Worker:
    """A forked process drawing ``keys``; ``fd`` carries its frames back."""

    def __init__(self, pid: int, fd: int, request_fd: int, keys: list[int]):
        self.pid, self.fd, self.request_fd, self.keys = pid, fd, request_fd, set(keys)
        self.finished = False


class Frames:
    """The PNG frames of a grid, filled in by forked workers or in this process.

    Thread-safe: reader threads deliver frames while the caller (a slider callback)
    asks for them. ``listeners`` are called with each key as its frame arrives.
    """

    def __init__(self, grid: FrameGrid):
        self.grid = grid
        self.pngs: dict[int, bytes] = {}
        self.errors: dict[int, str] = {}
        self.listeners: list[Callable[[int], None]] = []
        self.seconds: float | None = None
        self._wanted = set(range(grid.size))
        self._workers: list[_Worker] = []
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._start = time.perf_counter()

    # -- filling -------------------------------------------------------------------
    def render_here(self, key: int) -> bytes:
        """Draw ``key`` in this process and store it (raises what the draw function raises)."""
        png = self.grid.render(key)
        self._deliver(key, True, png)
        return png

    def start_workers(self, keys: list[int], n_workers: int, *,
                      background: bool = False) -> None:
        """Fork up to ``n_workers`` processes that draw ``keys`` (in that order of need).

        ``background``: one worker, at low priority, which starts drawing when the
        background worker forked before it (for an earlier explorer) has finished, so
        the kernel's own cells come first and the sliders of a chapter become ready in
        the order they appear.
        """
        keys = [k for k in keys if k not in self.pngs]
        self._wanted.update(keys)
        n_workers = 1 if background else min(n_workers, len(keys))
        if not CAN_FORK or not keys or n_workers < 1:
            return
        for w in range(n_workers):
            worker = _fork_worker(self.grid, keys[w::n_workers], background)
            thread = threading.Thread(target=self._read, args=(worker,), daemon=True,
                                      name=f"vaelib-frames-{worker.pid}")
            self._workers.append(worker)
            self._threads.append(thread)
            thread.start()

    def _read(self, worker: _Worker) -> None:
        with os.fdopen(worker.fd, "rb") as pipe:
            while len(head := pipe.read(_HEADER.size)) == _HEADER.size:
                key, ok, n = _HEADER.unpack(head)
                self._deliver(key, bool(ok), pipe.read(n))
        os.waitpid(worker.pid, 0)
        with self._cond:  # under the lock, so request() never writes to a closed fd
            worker.finished = True
            os.close(worker.request_fd)
            self._cond.notify_all()

    def _deliver(self, key: int, ok: bool, payload: bytes) -> None:
        with self._cond:
            if ok:
                self.pngs[key] = payload
                self.errors.pop(key, None)
            elif key not in self.pngs:
                self.errors[key] = payload.decode("utf-8", "replace")
            if self.done and self.seconds is None:
                self.seconds = time.perf_counter() - self._start
            self._cond.notify_all()
        for listener in list(self.listeners):
            listener(key)

    # -- reading -------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Whether every wanted frame is drawn (or failed)."""
        return all(k in self.pngs or k in self.errors for k in self._wanted)

    def _owner(self, key: int) -> _Worker | None:
        for worker in self._workers:
            if key in worker.keys and not worker.finished:
                return worker
        return None

    def request(self, key: int) -> bool:
        """Ask the worker that owns ``key`` to draw it next; False if no worker will."""
        with self._cond:
            if key in self.pngs:
                return True
            worker = self._owner(key)
            if worker is None:
                return False
            try:
                os.write(worker.request_fd, _REQUEST.pack(key))
            except OSError:  # the worker is exiting; its reader will mark it finished
                pass
            return True

    def get(self, key: int) -> bytes:
        """Frame ``key``, waiting for its worker (or drawing it here if no worker has it)."""
        self.request(key)
        with self._cond:
            self._cond.wait_for(lambda: key in self.pngs or key in self.errors
                                or self._owner(key) is None)
            if key in self.pngs:
                return self.pngs[key]
        return self.render_here(key)  # a failed frame raises here, with its values

    def wait(self) -> None:
        """Block until every wanted frame exists; draw here what no worker delivered.

        A frame whose draw function raised is drawn again here, so the exception (with
        the slider values in its notes) reaches the caller with its real traceback.
        """
        try:
            for thread in self._threads:
                thread.join()
        except BaseException:  # KeyboardInterrupt: stop the workers, then re-raise
            self.stop()
            raise
        for key in sorted(self._wanted):
            if key not in self.pngs:
                self.render_here(key)
        if self.seconds is None:
            self.seconds = time.perf_counter() - self._start

    def stop(self) -> None:
        """Terminate the workers still running."""
        for worker in self._workers:
            if not worker.finished:
                try:
                    os.kill(worker.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


# -- the worker side ------------------------------------------------------------------
#: Priority of background workers (``os.nice`` increment): the kernel's cells come first.
BACKGROUND_NICE = 10
#: Read end of the "baton" of the last background worker: it reaches end-of-file when
#: that worker exits, which is when the next background worker may start.
_last_baton: int | None = None


def _fork_worker(grid: FrameGrid, keys: list[int], background: bool) -> _Worker:
    global _last_baton
    result_r, result_w = os.pipe()
    request_r, request_w = os.pipe()
    baton_r, baton_w = os.pipe() if background else (None, None)
    wait_for = _last_baton if background else None
    with warnings.catch_warnings():  # Python >= 3.12 warns about fork with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the worker (holding baton_w until it exits): never returns
        for fd in (result_r, request_w, baton_r):
            if fd is not None:
                os.close(fd)
        _worker_main(grid, keys, result_w, request_r, background, wait_for)
    for fd in (result_w, request_r, baton_w, wait_for):
        if fd is not None:
            os.close(fd)
    if background:
        _last_baton = baton_r
    return _Worker(pid, result_r, request_w, keys)


def _worker_main(grid: FrameGrid, keys: list[int], out_fd: int, request_fd: int,
                 background: bool, wait_for: int | None) -> None:
    """Draw ``keys`` (requested ones first) and write them to ``out_fd``; then exit."""
    code = 0
    try:
        _quiet_worker(BACKGROUND_NICE if background else 0)
        if wait_for is not None:  # the previous background worker's baton: wait for EOF
            while os.read(wait_for, 4096):
                pass
        os.set_blocking(request_fd, False)
        todo = list(keys)
        while todo:
            for key in _requests(request_fd):
                if key in todo:
                    todo.remove(key)
                    todo.insert(0, key)
            key = todo.pop(0)
            try:
                ok, payload = 1, grid.render(key)
            except Exception as exc:
                ok, payload = 0, "".join(traceback.format_exception_only(exc)).encode()
            _write_all(out_fd, _HEADER.pack(key, ok, len(payload)) + payload)
    except BrokenPipeError:  # the caller has gone: nothing left to do
        pass
    except BaseException:
        code = 1
    finally:
        os._exit(code)  # never run the parent's atexit handlers or flush its streams


def _quiet_worker(nice: int) -> None:
    """A worker must not touch the kernel's streams, sockets or thread pools."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupting the kernel spares workers
    sys.stdout = sys.stderr = open(os.devnull, "w")
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    if nice:
        os.nice(nice)
    torch = sys.modules.get("torch")
    if torch is not None:  # one thread: the OpenMP pool of the parent did not survive fork
        torch.set_num_threads(1)


def _requests(fd: int) -> Iterable[int]:
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return []
    n = len(data) // _REQUEST.size
    return [k for (k,) in _REQUEST.iter_unpack(data[:n * _REQUEST.size])]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
