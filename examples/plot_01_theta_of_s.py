r"""
theta(S) and the sum convention
===============================

A convex learner trained on a subset :math:`S` of a fixed pool reaches one set of parameters,
:math:`\theta(S)`. This tutorial computes that set function exactly and checks every number
against an independent computation: scikit-learn for single fits, a loop of single fits for the
batched solver, explicit refits for leave-one-out.

Every learner in the library minimises the **sum** objective

.. math::

   F_S(\theta) = \sum_{i \in S} w_i\, \ell(\theta; x_i, y_i)
                 + \frac{\lambda}{2}\lVert P\theta\rVert^2 ,

with a regulariser that does not change with :math:`|S|`. scikit-learn's ``C`` multiplies the
loss instead, so :math:`C = 1/\lambda`.
"""

# %%
# Data and one exact fit
# ----------------------
# ``datasets.load`` gives a deterministic, standardised split whose rows lie in the unit ball
# (the certificates of a later tutorial need that). The learner appends the intercept itself:
# ``theta = [w, b]``, so ``p = d + 1``.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression as SkLogistic

import modelpred_theory as mpt

ds = mpt.datasets.load("breast_cancer", seed=0)
X, y = ds.X_train, ds.y_train
n, d = X.shape
lam = 1.0
learner = mpt.learners.LogisticRegression(lam=lam)
res = learner.fit(X, y)
print(f"pool n = {n}, d = {d}, p = {res.theta.shape[0]}")
print(f"Newton iterations {res.n_iter}, ||grad F_S(theta)|| = {res.grad_norm:.1e}, "
      f"converged = {res.converged}")

# %%
# The same minimiser from scikit-learn with ``C = 1 / lam``
# ---------------------------------------------------------
# scikit-learn minimises :math:`C \sum_i \ell_i + \tfrac{1}{2}\lVert w\rVert^2`, which is
# :math:`C\,F_S` with :math:`\lambda = 1/C`; its intercept is unpenalised, as here by default.
sk = SkLogistic(C=1.0 / lam, tol=1e-12, max_iter=10_000).fit(X, y)
theta_sk = np.r_[sk.coef_.ravel(), sk.intercept_]
rel = np.linalg.norm(res.theta - theta_sk) / np.linalg.norm(res.theta)
print(f"relative distance to scikit-learn (C = 1/lam): {rel:.1e}")
# tolerance: scikit-learn's lbfgs stops on its own gradient test, ~1e-6 relative at best here
assert rel < 1e-5

# %%
# Why the sum matters: a subset is not a smaller copy of the pool
# -----------------------------------------------------------------
# Under the sum convention the regulariser weighs the same however many points remain, so a
# smaller :math:`S` is regularised *relatively* more. A "mean" convention (average loss plus
# :math:`\tfrac{\lambda}{2}\lVert P\theta\rVert^2`) is the sum convention with
# :math:`\lambda|S|` in place of :math:`\lambda`. On half the pool scikit-learn reproduces our
# subset fit only with the same ``C``: the subset changes the data, not the penalty.
rng = np.random.default_rng(0)
half = np.zeros(n, dtype=bool)
half[rng.choice(n, n // 2, replace=False)] = True
theta_half = learner.fit(X, y, sample_weight=half).theta
sk_half = SkLogistic(C=1.0 / lam, tol=1e-12, max_iter=10_000).fit(X[half], y[half])
rel_half = np.linalg.norm(theta_half - np.r_[sk_half.coef_.ravel(), sk_half.intercept_])
rel_half /= np.linalg.norm(theta_half)
print(f"half pool, C = 1/lam: relative distance {rel_half:.1e}")
assert rel_half < 1e-5

sizes = np.array([20, 40, 80, 160, 240, 320, n])
norm_sum, norm_mean = [], []
for s in sizes:
    m = np.zeros(n, dtype=bool)
    m[rng.permutation(n)[:s]] = True
    norm_sum.append(np.linalg.norm(learner.fit(X, y, sample_weight=m).theta))
    # the mean convention is the sum convention with lam |S|; scaled to agree at |S| = n
    mean_learner = mpt.learners.LogisticRegression(lam=lam * s / n)
    norm_mean.append(np.linalg.norm(mean_learner.fit(X, y, sample_weight=m).theta))

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(sizes, norm_sum, "o-", label=r"sum convention ($\lambda$ fixed)")
ax.plot(sizes, norm_mean, "s--", label=r"mean convention ($\lambda |S| / n$)")
ax.set_xlabel("|S|")
ax.set_ylabel(r"$\|\theta(S)\|$")
ax.set_title("The regulariser does not scale with |S|")
ax.legend()
fig.tight_layout()

# %%
# Batched exact refits
# --------------------
# ``fit_subsets`` solves many subsets at once (one batched Newton iteration for all of them).
# Each row is the exact minimiser: compare with a loop of single fits.
masks = mpt.subsets.fixed_size_subsets(n, 200, n // 2, rng=1)
t0 = time.perf_counter()
thetas = learner.fit_subsets(X, y, masks)
t_batch = time.perf_counter() - t0
t0 = time.perf_counter()
loop = np.stack([learner.fit(X, y, sample_weight=m).theta for m in masks[:20]])
t_loop = (time.perf_counter() - t0) * len(masks) / 20
err = np.max(np.linalg.norm(thetas[:20] - loop, axis=1) / np.linalg.norm(loop, axis=1))
print(f"{len(masks)} subsets: batched {t_batch:.2f} s, loop of single fits ~{t_loop:.2f} s "
      f"({t_loop / t_batch:.1f}x); max relative difference {err:.1e}")
# tolerance: both stop at a relative gradient of 1e-10; the minimisers then agree to ~1e-9
assert err < 1e-8

# %%
# Leave-one-out, exactly
# ----------------------
# ``baselines.loo_exact`` refits without each point (warm-started from the full fit). Check
# five of them against refits with that point's weight set to zero.
theta_loo = mpt.baselines.loo_exact(learner, X, y)
check = [0, 7, 42, 100, n - 1]
for i in check:
    m = np.ones(n, dtype=bool)
    m[i] = False
    ref = learner.fit(X, y, sample_weight=m).theta
    assert np.linalg.norm(theta_loo[i] - ref) <= 1e-8 * np.linalg.norm(ref)
shift = np.linalg.norm(theta_loo - res.theta, axis=1)
print(f"LOO: {theta_loo.shape}; ||theta(pool - i) - theta(pool)|| median {np.median(shift):.2e},"
      f" max {shift.max():.2e} (point {shift.argmax()})")

# %%
# For ridge regression the leave-one-out parameters have a closed form (one solve with the
# full Hessian and a rank-one correction per point); ``loo_ridge`` equals exact refits.
reg = mpt.datasets.load("diabetes", seed=0)
ridge = mpt.learners.Ridge(lam=1.0)
closed = mpt.baselines.loo_ridge(ridge, reg.X_train, reg.y_train)
exact = mpt.baselines.loo_exact(ridge, reg.X_train, reg.y_train)
gap = np.max(np.abs(closed - exact)) / np.max(np.abs(exact))
print(f"ridge LOO: closed form vs refits, max relative difference {gap:.1e}")
assert gap < 1e-9  # tolerance: two float64 solves of a well-conditioned system

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.hist(shift, bins=40, color="C2")
ax.set_yscale("log")
ax.set_xlabel(r"$\|\theta(\mathrm{pool}\setminus\{i\}) - \theta(\mathrm{pool})\|$")
ax.set_ylabel("points")
ax.set_title("How far each training point moves the logistic fit")
fig.tight_layout()
ratio = shift.max() / np.median(shift)
print(f"the most influential point moves theta {ratio:.1f}x as far as the median point")
assert ratio > 3  # the heavy tail that the text below reads off the histogram

# %%
# What we learned
# ---------------
# :math:`\theta(S)` is an ordinary function of the subset that the library computes exactly:
# one fit agrees with scikit-learn at ``C = 1 / lam``, the batched solver agrees with a loop of
# single fits at a fraction of its cost, and the leave-one-out parameters agree with explicit
# refits (in closed form for ridge). The regulariser does not shrink with :math:`|S|`, so a
# subset is not a smaller copy of the pool. The histogram (last figure, log scale) shows that
# removing one point moves the fit very unequally: most points barely move it and a few move it
# several times as far as the median point (the printed ratio); data valuation (:ref:`tutorial 7
# <sphx_glr_auto_examples_plot_07_data_valuation.py>`) and influence functions (:ref:`tutorial 3
# <sphx_glr_auto_examples_plot_03_influence_newton.py>`) are ways to find those points without
# refitting.
#
# Exercises
# ---------
# 1. Refit with ``lam = 0.1`` and ``lam = 10``. How do the median and the largest
#    leave-one-out shift change, and why does a stronger regulariser shrink them?
# 2. Compare one subset fit with scikit-learn under the *mean* convention: which ``C`` makes
#    ``LogisticRegression(C=...)`` reproduce ``learner.fit`` on half the pool?
# 3. Time ``fit_subsets`` on 50, 200 and 800 masks. Where does the batched solver's
#    advantage over the loop come from?
#
# References
# ----------
# - Y. Zeng, J. T. Wang, S. Chen, H. A. Just, R. Jin and R. Jia, "ModelPred: A Framework for
#   Predicting Trained Model from Training Data", IEEE SaTML 2023 (the set function
#   :math:`S \mapsto \theta(S)` that this library computes and learns).
# - R. D. Cook, "Detection of influential observation in linear regression",
#   Technometrics 19, 1977 (leave-one-out changes of a fit; the closed form for ridge).
# - F. Pedregosa et al., "Scikit-learn: Machine Learning in Python", JMLR 12, 2011 (the
#   reference solver, ``C = 1 / lam``).
