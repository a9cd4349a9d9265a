"""Test functions whose gradients and estimator variances are known in closed form (chapter 5).

For z ~ q = N(mu, diag(std**2)) and three functions f, the exact gradient of
F = E_q[f(z)] and the variance of one-sample (L = 1) estimates of it:

* ||z||**2: both estimators (:func:`squared_norm_grad_variance`); the pathwise
  variance of d/dmu_d is 4 std_d**2, whatever the latent dimension d;
* (sum_j z_j)**2: the pathwise variance 4 sum_j std_j**2 grows like d, because
  df/dz_d depends on every coordinate;
* sum_j sin(omega z_j): the pathwise variance grows like omega**2 (how fast f
  changes), while |f| <= 1 bounds what the score function multiplies.

Divide by L for the average of L independent samples. The tests compare every formula
with seeded Monte Carlo and autograd.
"""
from __future__ import annotations

import torch

from .._validation import check_mu_logvar, check_positive

__all__ = ["squared_norm_grad", "squared_norm_grad_variance", "squared_sum_grad",
           "squared_sum_pathwise_variance", "sine_grad", "sine_pathwise_variance"]


# ---------------------------------------------------------------------------------
# a test objective with everything in closed form: f(z) = ||z||^2
# ---------------------------------------------------------------------------------
def squared_norm_grad(mu: torch.Tensor, logvar: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact gradient of E_q[||z||^2] = sum_d (mu_d**2 + exp(logvar_d)).

    dF/dmu_d = 2 mu_d,    dF/dlogvar_d = exp(logvar_d) = std_d**2.

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (..., latent_dim)

    Returns
    -------
    grad_mu, grad_logvar : torch.Tensor, each of the shape of ``mu``
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    return 2 * mu, torch.exp(logvar)


def squared_norm_grad_variance(mu: torch.Tensor, logvar: torch.Tensor, estimator: str
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Variance of one-sample estimates (L = 1) of the gradient of E_q[||z||^2].

    Divide by L for the plain L-sample estimators. With m = mu_d, s = std_d and,
    over the other coordinates j != d, B_1 = sum (mu_j**2 + s_j**2) = E[B] and
    B_2 = E[B**2] = B_1**2 + sum (4 mu_j**2 s_j**2 + 2 s_j**4), where
    B = sum_{j != d} z_j**2:

    * ``"pathwise"``: per-sample gradients 2 z_d and z_d s eps_d, so
      Var[d/dmu_d] = 4 s**2 and Var[d/dlogvar_d] = m**2 s**2 + 2 s**4
      (no dependence on the other coordinates).
    * ``"score"`` (no baseline): per-sample gradients f eps_d / s and
      f (eps_d**2 - 1) / 2 with f = z_d**2 + B; moments of eps up to order 8 give

          Var[d/dmu_d]     = (m**4 + 18 m**2 s**2 + 15 s**4 + 2 (m**2 + 3 s**2) B_1 + B_2) / s**2
                             - 4 m**2,
          Var[d/dlogvar_d] = (2 m**4 + 60 m**2 s**2 + 78 s**4 + 2 (2 m**2 + 10 s**2) B_1
                              + 2 B_2) / 4 - s**4.

      At mu = 0 and equal s the first is s**2 (D + 2)(D + 4): it grows like D**2
      with the latent dimension D, while the pathwise variance stays 4 s**2.

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (..., latent_dim)
    estimator : {"pathwise", "score"}

    Returns
    -------
    var_mu, var_logvar : torch.Tensor, each of the shape of ``mu``
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    m2, s2 = mu.pow(2), torch.exp(logvar)
    if estimator == "pathwise":
        return 4 * s2, m2 * s2 + 2 * s2.pow(2)
    if estimator != "score":
        raise ValueError(f"estimator must be 'pathwise' or 'score', got {estimator!r}.")
    mean_zj2 = m2 + s2                                       # E[z_j^2]
    var_zj2 = 4 * m2 * s2 + 2 * s2.pow(2)                    # Var[z_j^2]
    b1 = mean_zj2.sum(-1, keepdim=True) - mean_zj2           # E[B], B = sum_{j != d} z_j^2
    b2 = (var_zj2.sum(-1, keepdim=True) - var_zj2) + b1.pow(2)   # E[B^2]
    var_mu = (m2.pow(2) + 18 * m2 * s2 + 15 * s2.pow(2) + 2 * (m2 + 3 * s2) * b1 + b2) / s2 \
        - 4 * m2
    var_logvar = (2 * m2.pow(2) + 60 * m2 * s2 + 78 * s2.pow(2)
                  + 2 * (2 * m2 + 10 * s2) * b1 + 2 * b2) / 4 - s2.pow(2)
    return var_mu, var_logvar


# ---------------------------------------------------------------------------------
# two more test objectives: where the pathwise variance grows with d, and where the
# score function wins
# ---------------------------------------------------------------------------------
def squared_sum_grad(mu: torch.Tensor, logvar: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact gradient of E_q[(sum_j z_j)**2] = (sum_j mu_j)**2 + sum_j std_j**2.

    dF/dmu_d = 2 sum_j mu_j,    dF/dlogvar_d = std_d**2.

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (..., latent_dim)

    Returns
    -------
    grad_mu, grad_logvar : torch.Tensor, each of the shape of ``mu``
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    return 2 * mu.sum(-1, keepdim=True).expand_as(mu), torch.exp(logvar)


def squared_sum_pathwise_variance(mu: torch.Tensor, logvar: torch.Tensor
                                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Variance of one-sample pathwise estimates (L = 1) of the gradient of E_q[(sum z)**2].

    With S = sum_j z_j, m = sum_j mu_j and v = sum_j std_j**2, the per-sample gradients
    are 2 S (for every mu_d) and S std_d eps_d (for logvar_d), so

        Var[d/dmu_d]     = 4 v                                  (the same for every d),
        Var[d/dlogvar_d] = std_d**2 (m**2 + std_d**2 + v).

    Unlike for ||z||**2, the derivative df/dz_d = 2 S involves every coordinate, and the
    variance grows with the latent dimension: 4 d std**2 for equal stds.

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (..., latent_dim)

    Returns
    -------
    var_mu, var_logvar : torch.Tensor, each of the shape of ``mu``
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    s2 = torch.exp(logvar)
    m, v = mu.sum(-1, keepdim=True), s2.sum(-1, keepdim=True)
    return (4 * v).expand_as(mu), s2 * (m.pow(2) + s2 + v)


def _check_omega(omega) -> float:
    return check_positive(omega, "omega", "It is the frequency of sin(omega z), e.g. 3.0.")


def sine_grad(mu: torch.Tensor, logvar: torch.Tensor, omega: float
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact gradient of E_q[sum_j sin(omega z_j)] = sum_j sin(omega mu_j) exp(-omega**2 std_j**2 / 2).

    (E[exp(i omega z)] = exp(i omega mu - omega**2 std**2 / 2), imaginary part.)

        dF/dmu_d     = omega cos(omega mu_d) exp(-omega**2 std_d**2 / 2),
        dF/dlogvar_d = -(omega**2 std_d**2 / 2) sin(omega mu_d) exp(-omega**2 std_d**2 / 2).

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (..., latent_dim)
    omega : float
        Frequency (> 0).

    Returns
    -------
    grad_mu, grad_logvar : torch.Tensor, each of the shape of ``mu``
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    omega = _check_omega(omega)
    s2 = torch.exp(logvar)
    damp = torch.exp(-0.5 * omega ** 2 * s2)
    return (omega * torch.cos(omega * mu) * damp,
            -0.5 * omega ** 2 * s2 * torch.sin(omega * mu) * damp)


def sine_pathwise_variance(mu: torch.Tensor, logvar: torch.Tensor, omega: float
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Variance of one-sample pathwise estimates of the gradient of E_q[sum_j sin(omega z_j)].

    The per-sample gradients are omega cos(omega z_d) and omega cos(omega z_d) std_d eps_d / 2.
    With a = 2 omega mu_d, b = 2 omega std_d and E[cos(a + b eps)] = cos(a) exp(-b**2/2),
    E[cos(a + b eps) eps**2] = cos(a) (1 - b**2) exp(-b**2/2):

        Var[d/dmu_d]     = omega**2 [(1 + cos(a) exp(-b**2/2)) / 2
                                     - cos(omega mu_d)**2 exp(-omega**2 std_d**2)],
        Var[d/dlogvar_d] = (omega std_d)**2 [1 + cos(a) (1 - b**2) exp(-b**2/2)] / 8
                           - (dF/dlogvar_d)**2.

    For omega std >> 1 the first is omega**2 / 2: it grows with how fast f changes, while
    |f| <= 1 keeps the score function's variance bounded.

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (..., latent_dim)
    omega : float
        Frequency (> 0).

    Returns
    -------
    var_mu, var_logvar : torch.Tensor, each of the shape of ``mu``
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    omega = _check_omega(omega)
    s2 = torch.exp(logvar)
    cos_a = torch.cos(2 * omega * mu)
    decay = torch.exp(-2 * omega ** 2 * s2)                  # exp(-b**2 / 2)
    var_mu = omega ** 2 * (0.5 * (1 + cos_a * decay)
                           - torch.cos(omega * mu).pow(2) * torch.exp(-omega ** 2 * s2))
    grad_logvar = sine_grad(mu, logvar, omega)[1]
    var_logvar = (omega ** 2 * s2 * (1 + cos_a * (1 - 4 * omega ** 2 * s2) * decay) / 8
                  - grad_logvar.pow(2))
    return var_mu, var_logvar
