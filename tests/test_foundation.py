"""Tests of vaelib's basics: version, seeding, device choice, cache folder, plot style,
input validation and the exercise checkers."""
import random
import re

import matplotlib as mpl
import numpy as np
import pytest
import torch

import vaelib
from vaelib import _validation as v
from vaelib.exercises import available, check
from vaelib.plotting import BOOK_STYLE, COLORS, PALETTE, use_book_style


def test_version_is_a_release_string():
    assert re.fullmatch(r"\d+\.\d+\.\d+", vaelib.__version__)


def test_seed_everything_makes_all_three_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    vaelib.seed_everything(123)
    first = draw()
    vaelib.seed_everything(123)
    assert draw() == first
    vaelib.seed_everything(124)
    assert draw() != first


def test_seed_everything_returns_an_independent_seeded_generator():
    a = vaelib.seed_everything(7).normal(size=3)
    b = np.random.default_rng(7).normal(size=3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                      ("3", TypeError), (True, TypeError)])
def test_seed_everything_rejects_bad_seeds(bad, exc):
    with pytest.raises(exc, match="seed"):
        vaelib.seed_everything(bad)


def test_get_device_prefers_cuda_only_when_available(monkeypatch):
    monkeypatch.delenv("VAEBOOK_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert vaelib.get_device().type == expected
    assert vaelib.get_device("cpu") == torch.device("cpu")


def test_get_device_environment_override_and_errors(monkeypatch):
    monkeypatch.setenv("VAEBOOK_DEVICE", "cpu")
    assert vaelib.get_device().type == "cpu"
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        vaelib.get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="use 'cpu'"):
            vaelib.get_device("cuda")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path / "c"))
    path = vaelib.cache_dir()
    assert path == tmp_path / "c" and path.is_dir()


def test_palette_is_okabe_ito_and_distinct():
    assert PALETTE["blue"] == "#0072B2" and PALETTE["vermillion"] == "#D55E00"
    assert len(set(COLORS)) == len(COLORS) == 8


def test_book_style_is_projector_sized_and_colour_blind_safe():
    with mpl.rc_context():
        mpl.rcdefaults()
        use_book_style()
        assert mpl.rcParams["font.size"] >= 12 and mpl.rcParams["lines.linewidth"] >= 2
        cycle = [c["color"].lower() for c in mpl.rcParams["axes.prop_cycle"]]
        assert cycle == [c.lower() for c in COLORS]
        assert mpl.rcParams["image.cmap"] == BOOK_STYLE["image.cmap"] == "cividis"


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_check_positive_rejects(bad):
    with pytest.raises(ValueError, match="> 0"):
        v.check_positive(bad, "noise_std")


def test_check_positive_types():
    assert v.check_positive(2, "s") == 2.0
    with pytest.raises(TypeError):
        v.check_positive("1", "s")
    with pytest.raises(TypeError):
        v.check_positive(True, "s")


def test_check_int():
    assert v.check_int(np.int64(3), "L") == 3
    with pytest.raises(ValueError, match="L must be >= 1"):
        v.check_int(0, "L")
    with pytest.raises(TypeError, match="integer"):
        v.check_int(2.0, "L")


def test_check_array_shapes_and_nan():
    assert v.check_array([[1, 2]], "X", ndim=2).dtype == np.float64
    with pytest.raises(ValueError, match="2 dimension"):
        v.check_array([1, 2], "X", ndim=2)
    with pytest.raises(ValueError, match="NaN"):
        v.check_array([[1, np.nan]], "X", ndim=2)
    with pytest.raises(ValueError, match="empty"):
        v.check_array(np.zeros((0, 2)), "X", ndim=2)
    with pytest.raises(TypeError):
        v.check_array([["a", "b"]], "X")


def test_check_tensor():
    t = torch.zeros(2, 3)
    assert v.check_tensor(t, "mu", ndim=2) is t
    with pytest.raises(TypeError, match="torch.Tensor"):
        v.check_tensor(np.zeros((2, 3)), "mu")
    with pytest.raises(TypeError, match="floating"):
        v.check_tensor(torch.zeros(2, 3, dtype=torch.long), "mu")
    with pytest.raises(ValueError, match="dimension"):
        v.check_tensor(torch.zeros(3), "mu", ndim=2)
    with pytest.raises(ValueError, match="NaN"):
        v.check_tensor(torch.tensor([[float("nan")]]), "mu")


def test_exercise_checker_right_and_wrong(capsys):
    assert check("howto-1", 0.8)
    assert "Right" in capsys.readouterr().out
    assert not check("howto-1", 0.64)
    assert "square root" in capsys.readouterr().out
    assert not check("howto-1", "eight")


def test_exercise_unknown_keys():
    with pytest.raises(ValueError, match="no exercise"):
        check("howto-99", 1)
    with pytest.raises(ValueError, match="look like"):
        check("nodash", 1)
    assert "howto-1" in available()


def test_check_random_state():
    rng = np.random.default_rng(3)
    assert v.check_random_state(rng) is rng
    np.testing.assert_array_equal(v.check_random_state(5).normal(size=2),
                                  np.random.default_rng(5).normal(size=2))
    assert isinstance(v.check_random_state(None), np.random.Generator)
    with pytest.raises(ValueError, match=">= 0"):
        v.check_random_state(-1)
    with pytest.raises(TypeError, match="random_state"):
        v.check_random_state(1.5)
    with pytest.raises(TypeError, match="random_state"):
        v.check_random_state(True)


def test_covariance_ellipse_is_the_mahalanobis_contour():
    # points on the drawn ellipse satisfy (z - m)^T cov^{-1} (z - m) = n_std^2 (independent
    # route: the inverse covariance by numpy.linalg.inv, not the eigenvectors)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from vaelib.plotting import covariance_ellipse

    ax = Figure().subplots()
    mean, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.8], [0.8, 0.7]])
    patch = covariance_ellipse(ax, mean, cov, n_std=2.0, color="k")
    t = np.linspace(0, 2 * np.pi, 50)
    # the patch is the unit circle under its patch transform (the path's Bezier control
    # points lie off the circle, so transform points of the circle itself)
    points = patch.get_patch_transform().transform(np.c_[np.cos(t), np.sin(t)])
    d2 = np.einsum("ni,ij,nj->n", points - mean, np.linalg.inv(cov), points - mean)
    np.testing.assert_allclose(d2, 4.0, rtol=1e-6)
    assert not patch.get_fill()
    diag = covariance_ellipse(ax, mean, np.array([0.5, 2.0]))       # variances only
    assert diag.width == pytest.approx(2 * np.sqrt(2.0)) and diag.height == pytest.approx(
        2 * np.sqrt(0.5))
    with pytest.raises(ValueError, match="2-D"):
        covariance_ellipse(ax, np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="positive definite"):
        covariance_ellipse(ax, mean, -np.eye(2))


def test_digit_tiles_places_every_image():
    import torch

    from vaelib.plotting import digit_tiles

    images = torch.arange(6 * 4, dtype=torch.float32).reshape(6, 4) + 1   # 2x2 images
    whole = digit_tiles(images, 2, 3, pad=1)
    assert whole.shape == (2 * 3 - 1, 3 * 3 - 1)
    for k in range(6):
        r, c = divmod(k, 3)
        np.testing.assert_array_equal(whole[3 * r:3 * r + 2, 3 * c:3 * c + 2],
                                      images[k].reshape(2, 2).numpy())
    assert whole[2].sum() == 0 and whole[:, 2].sum() == 0                # blank lines
    with pytest.raises(ValueError, match="rows \\* cols"):
        digit_tiles(images, 2, 2)
