"""Input checks shared by the public entry points of vaelib.

Each helper raises ``TypeError`` or ``ValueError`` with a message that says what was
wrong and what to do. Inner kernels assume their inputs were checked here once, so the
classes of mistakes a reader makes are caught at their root, whatever function they
call:

* wrong types (a generator given as an int, a tensor of integers, float64 data for a
  float32 model: converted once, here);
* empty inputs and zero-sized latent dimensions;
* values that would overflow when squared or exponentiated (data scaled by 1e200, a
  standard deviation of 1e-200, ``logvar = 100`` in float32);
* pixels outside [0, 1] for a Bernoulli decoder.
"""
from __future__ import annotations

import numbers

import numpy as np

#: Largest |value| accepted in float64 data: its square must stay finite (1.8e308).
_MAX_ABS_FLOAT64 = 1e150
#: The same for float32 tensors (their squares overflow past 3.4e38).
_MAX_ABS_FLOAT32 = 1e18
#: exp(logvar) must stay a finite, non-zero variance: |logvar| below these bounds.
_MAX_ABS_LOGVAR = {"float32": 87.0, "float64": 708.0}

_STD_HINT = "Pass a standard deviation (not a variance), e.g. {name}=1.0."


def check_positive(value, name: str, hint: str = "") -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0.

    ``hint`` is appended to the message (say what the number is for, e.g. "a learning
    rate such as 1e-3").
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}. "
                        f"{hint}".rstrip())
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}. {hint}".rstrip())
    return value


def check_nonnegative(value, name: str, hint: str = "") -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}. {hint}".rstrip())
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}. {hint}".rstrip())
    return value


def check_spd(matrices, name: str) -> np.ndarray:
    """Symmetric positive definite matrices, shape (..., D, D) (covariances, precisions)."""
    matrices = check_array(matrices, name)
    if matrices.ndim < 2 or matrices.shape[-1] != matrices.shape[-2]:
        raise ValueError(f"{name} must be square matrices (..., D, D), got shape "
                         f"{matrices.shape}; for a diagonal covariance pass np.diag(variances).")
    if not np.allclose(matrices, np.swapaxes(matrices, -1, -2), rtol=1e-8, atol=1e-12):
        raise ValueError(f"{name} must be symmetric; symmetrise with 0.5 * (A + A^T).")
    try:
        np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite (a covariance); add a small "
                         "multiple of the identity to each matrix.") from None
    return matrices


def check_learning_rate(value, name: str = "lr", example: str = "1e-3") -> float:
    """A learning rate: finite, > 0, and small enough for float32 optimizer arithmetic."""
    value = check_positive(value, name, f"It is a learning rate (step size), e.g. "
                                        f"{name}={example}.")
    if value > 1e30:
        raise ValueError(f"{name}={value:.4g} is too large for the optimizer's float32 "
                         f"arithmetic (and would only diverge); use e.g. {name}={example}.")
    return value


def check_std(value, name: str) -> float:
    """A standard deviation: finite, > 0, and with a variance representable in float64.

    ``sigma = 1e-200`` is positive but its square is 0 in float64, so every density that
    divides by the variance would return inf or NaN; the same for 1e200 the other way.
    """
    value = check_positive(value, name, _STD_HINT.format(name=name))
    if not 1e-150 < value < 1e150:
        raise ValueError(f"{name}={value:.4g} is too {'small' if value < 1 else 'large'} to "
                         "square in floating point (the variance under/overflows); rescale "
                         "the problem so that standard deviations lie within 1e-150..1e150.")
    return value


def check_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def check_array(X, name: str, ndim: int | None = None, dtype=np.float64) -> np.ndarray:
    """Return ``X`` as a finite, non-empty NumPy array of ``dtype`` with ``ndim`` dimensions.

    Values beyond ±1e150 are refused: their squares overflow float64 (rescale the data).
    """
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of numbers: {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        hint = ""
        if ndim == 2 and arr.ndim == 1:
            hint = (f" A single example x is x[None, :] (shape (1, {arr.shape[0]})); "
                    f"one feature per example is X[:, None] (shape ({arr.shape[0]}, 1)).")
        elif ndim == 2:
            hint = " Flatten each example to a row: X.reshape(len(X), -1)."
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}.{hint}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first.")
    if np.issubdtype(arr.dtype, np.floating) and np.max(np.abs(arr)) > _MAX_ABS_FLOAT64:
        raise ValueError(f"{name} has values up to {np.max(np.abs(arr)):.3g}, whose squares "
                         "overflow floating point; rescale the data (e.g. standardise it).")
    return arr


def check_tensor(t, name: str, ndim: int | None = None, dtype=None):
    """Check that ``t`` is a finite, non-empty floating torch tensor with ``ndim`` dimensions.

    With ``dtype`` (e.g. the model's ``torch.float32``) a floating tensor of another
    precision is converted once, here (``torch.as_tensor`` of NumPy data gives float64).
    Returns the (possibly converted) tensor.
    """
    import torch

    if not isinstance(t, torch.Tensor):
        if isinstance(t, np.ndarray):
            raise TypeError(f"{name} must be a torch.Tensor, got a NumPy array; convert it "
                            f"with torch.as_tensor({name}, dtype=torch.float32).")
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}; "
                        f"wrap it with torch.as_tensor({name}, dtype=torch.float32).")
    if not t.is_floating_point():
        hint = (f" Pixels stored as integers 0..255 become {name}.float() / 255."
                if t.dtype == torch.uint8 else f" Use {name}.float().")
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}.{hint}")
    if ndim is not None and t.dim() != ndim:
        hint = ""
        if ndim == 2 and t.dim() == 1:
            hint = (f" A single example is {name}[None, :]; one feature per example is "
                    f"{name}[:, None].")
        elif ndim == 2 and t.dim() > 2:
            hint = f" Flatten images to (batch, pixels) with {name}.reshape(len({name}), -1)."
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape "
                         f"{tuple(t.shape)}.{hint}")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); every dimension, the "
                         "batch and the latent dimension included, must be >= 1.")
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    values = t.detach()
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")
    limit = _MAX_ABS_FLOAT32 if t.dtype in (torch.float32, torch.float16, torch.bfloat16) \
        else _MAX_ABS_FLOAT64
    largest = float(values.abs().max())
    if largest > limit:
        raise ValueError(f"{name} has values up to {largest:.3g}, whose squares "
                         f"overflow {t.dtype}; rescale them (or use float64 tensors).")
    return t


def check_mu_logvar(mu, logvar, ndim: int | None = 2):
    """Mean and log-variance of a diagonal Gaussian: same shape, finite, exp(logvar) finite.

    Returns ``(mu, logvar)``. ``ndim=None`` accepts any shape ``(..., latent_dim)``.
    """
    import torch

    mu = check_tensor(mu, "mu", ndim=ndim)
    logvar = check_tensor(logvar, "logvar", ndim=ndim)
    if mu.dim() < 1:
        raise ValueError("mu must have at least one dimension (..., latent_dim); "
                         "wrap a scalar as mu.reshape(1).")
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape (batch, latent_dim), got "
                         f"{tuple(mu.shape)} and {tuple(logvar.shape)}.")
    if mu.dtype != logvar.dtype:
        raise TypeError(f"mu and logvar must share a dtype, got {mu.dtype} and {logvar.dtype}.")
    bound = _MAX_ABS_LOGVAR["float64" if logvar.dtype == torch.float64 else "float32"]
    worst = float(logvar.detach().abs().max())
    if worst > bound:
        raise ValueError(f"logvar reaches {worst:.4g}: the variance exp(logvar) over- or "
                         f"underflows {logvar.dtype} beyond |logvar| = {bound:g}. Check the "
                         "encoder's output, or use float64 tensors (.double()) for extreme "
                         "values.")
    return mu, logvar


def check_encoded(mu, logvar):
    """The encoder's output for a reader's x: finite, with exp(logvar) representable.

    An encoder fed inputs far from its training data (pixels on a 0..255 scale, say) can
    output log-variances whose exponential overflows; every bound would then be inf or
    NaN. Returns ``(mu, logvar)`` unchanged.
    """
    import torch

    bound = _MAX_ABS_LOGVAR["float64" if logvar.dtype == torch.float64 else "float32"]
    values = torch.cat([mu.detach().reshape(-1), logvar.detach().reshape(-1)])
    if not bool(torch.isfinite(values).all()) or float(logvar.detach().abs().max()) > bound:
        raise ValueError(f"the encoder's output overflows: logvar reaches "
                         f"{float(logvar.detach().abs().max()):.4g} (exp(logvar) must stay "
                         f"within |logvar| <= {bound:g} in {logvar.dtype}). Are the inputs on "
                         "the scale the model was trained on?")
    return mu, logvar


def check_baseline(baseline, n_samples: int):
    """A score-function baseline: None, a finite number, or "leave-one-out" (needs L >= 2)."""
    if baseline is None:
        return None
    if isinstance(baseline, str):
        if baseline != "leave-one-out":
            raise ValueError(f"baseline must be None, a number or 'leave-one-out', got "
                             f"{baseline!r}.")
        if n_samples < 2:
            raise ValueError("baseline='leave-one-out' needs n_samples >= 2: with one sample "
                             "there is no other sample to average.")
        return baseline
    if isinstance(baseline, bool) or not isinstance(baseline, numbers.Real):
        raise TypeError(f"baseline must be None, a number or 'leave-one-out', got "
                        f"{type(baseline).__name__}.")
    if not np.isfinite(float(baseline)):
        raise ValueError(f"baseline must be a finite number, got {baseline}.")
    return float(baseline)


def check_log_weights(a, name: str) -> np.ndarray:
    """Log-weights as float64: -inf allowed (a zero weight), NaN refused."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}).")
    if np.any(np.isnan(a)):
        raise ValueError(f"{name} contains NaN values.")
    return a


def check_generator(generator):
    """``None`` or a ``torch.Generator`` (the source of Monte Carlo noise)."""
    import torch

    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        raise TypeError(f"generator must be a torch.Generator or None, got the int "
                        f"{generator}; pass torch.Generator().manual_seed({generator}).")
    raise TypeError("generator must be a torch.Generator or None, got "
                    f"{type(generator).__name__}.")


def check_random_state(random_state) -> np.random.Generator:
    """``None``, a non-negative int seed or a ``numpy.random.Generator`` -> a Generator.

    A Generator is returned as it is (so a caller's stream continues); an int seeds a
    new one; ``None`` draws fresh entropy (not reproducible: pass a seed in notebooks).
    """
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError("random_state must be None, a non-negative int or a "
                        f"numpy.random.Generator, got {type(random_state).__name__}.")
    if random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state}.")
    return np.random.default_rng(int(random_state))


# -- models and their inputs --------------------------------------------------------------

_MODEL_KERNELS = ("_encode", "_decode", "_log_likelihood")


def check_model(model):
    """A VAE-like model: ``vaelib.models.VAE`` or anything with its interface.

    It must provide ``encode``/``decode``/``log_likelihood`` (validated) and their
    unchecked kernels ``_encode``/``_decode``/``_log_likelihood`` (for inner loops), and
    the attributes ``input_dim`` and ``latent_dim``.
    """
    missing = [m for m in ("encode", "decode", "log_likelihood", *_MODEL_KERNELS)
               if not callable(getattr(model, m, None))]
    missing += [a for a in ("input_dim", "latent_dim") if not hasattr(model, a)]
    if missing:
        raise TypeError(f"model must be a vaelib.models.VAE or offer the same interface; "
                        f"{type(model).__name__} lacks {', '.join(missing)}.")
    return model


def model_dtype(model):
    """The floating dtype of a model's parameters (or buffers); float32 if it has none."""
    import torch

    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def check_model_input(x, model, name: str = "x", ndim: int | None = 2, dtype=None):
    """Data for ``model``: a finite tensor ``(batch, input_dim)`` of the model's dtype.

    Converts a floating tensor of another precision once (to ``dtype``, by default the
    model's); for a Bernoulli decoder, refuses pixels outside [0, 1] (a 0..255 scale
    gives ELBOs near -1e9 otherwise). ``ndim=None`` accepts leading sample dimensions
    ``(..., batch, input_dim)``.
    """
    x = check_tensor(x, name, ndim=ndim, dtype=model_dtype(model) if dtype is None else dtype)
    if x.shape[-1] != model.input_dim:
        raise ValueError(f"{name} must have shape (batch, {model.input_dim}) for this model, "
                         f"got {tuple(x.shape)}. Flatten images to (batch, pixels) with "
                         f"{name}.reshape(len({name}), -1).")
    if getattr(model, "likelihood", None) == "bernoulli":
        low, high = float(x.detach().min()), float(x.detach().max())
        if low < 0.0 or high > 1.0:
            raise ValueError(f"a Bernoulli decoder needs pixels in [0, 1]; {name} spans "
                             f"[{low:.4g}, {high:.4g}]. Divide by the maximum intensity "
                             "(16 for 8x8 digits, 255 for MNIST).")
    return x


def check_finite_result(value, what: str, hint: str):
    """Raise if a computed result overflowed to inf or NaN (instead of returning it)."""
    import torch

    ok = (bool(torch.isfinite(value).all()) if isinstance(value, torch.Tensor)
          else bool(np.all(np.isfinite(value))))
    if not ok:
        raise ValueError(f"{what} overflowed to inf or NaN. {hint}")
    return value


__all__ = ["check_positive", "check_nonnegative", "check_learning_rate", "check_spd", "check_std", "check_int", "check_array", "check_tensor",
           "check_mu_logvar", "check_encoded", "check_baseline", "check_log_weights",
           "check_generator", "check_random_state", "check_model",
           "model_dtype", "check_model_input", "check_finite_result"]
