r"""
Influence functions and the Newton step against exact refits
============================================================

Removing a group :math:`G` from the training set moves the fit from :math:`\theta_0 =
\theta(S)` to :math:`\theta(S \setminus G)`. The classical shortcuts use one linear solve
around :math:`\theta_0`, with :math:`g_G = \sum_{i\in G}\nabla\ell_i(\theta_0)` the removed
gradient sum (no :math:`1/n` factors: sum convention):

.. math::

   \theta_{\mathrm{IF}} = \theta_0 + H_S^{-1} g_G ,
   \qquad
   \theta_{\mathrm{N}} = \theta_0 + H_{S\setminus G}^{-1} g_G .

The influence function :math:`\theta_{\mathrm{IF}}` uses the Hessian of the full fit; one
Newton step :math:`\theta_{\mathrm{N}}` uses the Hessian of what remains.

The :doc:`theory page </theory>` (statement 4) bounds both errors by a term *second order*
in :math:`\lVert g_G\rVert`; the influence function pays an extra
:math:`\lVert H_G\rVert\,\lVert g_G\rVert` because it ignores how the Hessian changes
when :math:`G` leaves. Here every approximation is scored against the exact refit of the same
subset.
"""

# %%
# Error against the removed fraction
# ----------------------------------
import matplotlib.pyplot as plt
import numpy as np

import modelpred_theory as mpt

ds = mpt.datasets.load("breast_cancer", seed=0)
X, y = ds.X_train, ds.y_train
n = len(y)
learner = mpt.learners.LogisticRegression(lam=1.0)
theta_full = learner.fit(X, y).theta


def change_error(approx, exact):
    """||approx - exact|| / ||exact - theta_full||: the error relative to the true change."""
    return np.linalg.norm(approx - exact, axis=1) / np.linalg.norm(exact - theta_full, axis=1)


fractions = [0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7]
methods = {
    "influence, 1st order": lambda m: mpt.baselines.influence(learner, X, y, m),
    "influence, 2nd order": lambda m: mpt.baselines.influence(learner, X, y, m, order=2),
    "one Newton step": lambda m: mpt.baselines.newton_step(learner, X, y, m),
}
errors = {name: [] for name in methods}
for frac in fractions:
    masks = mpt.subsets.removal_masks(n, frac, 40, rng=1)
    exact = learner.fit_subsets(X, y, masks)
    for name, method in methods.items():
        errors[name].append(np.median(change_error(method(masks), exact)))
print("median error of the predicted change (exact refits as truth)")
print("removed   " + "  ".join(f"{name:>21s}" for name in methods))
for j, frac in enumerate(fractions):
    print(f"{frac:7.0%}   " + "  ".join(f"{errors[name][j]:21.2%}" for name in methods))
first, second, newton_err = (np.array(errors[k]) for k in methods)
# what the text below reads off the table: first order is the worst everywhere, second order
# the best for the smallest removal, the Newton step the best for the largest
assert np.all(first > second) and np.all(first > newton_err)
assert second[0] < newton_err[0] and newton_err[-1] < second[-1]

fig, ax = plt.subplots(figsize=(6.2, 3.8))
for name, marker in zip(methods, "osd", strict=True):
    ax.plot(np.array(fractions) * 100, np.array(errors[name]) * 100, marker + "-", label=name)
ax.set_xlabel("% of the pool removed (uniformly at random)")
ax.set_ylabel("median error of the change (%)")
ax.set_title("L2 logistic, breast_cancer, lam = 1")
ax.legend()
fig.tight_layout()

# %%
# Where each one breaks, and why
# ------------------------------
# * First-order influence keeps the *full-fit* Hessian :math:`H_S`. What remains after a
#   removal has less curvature than :math:`H_S`, and the influence function never sees that:
#   its error is first order in the removed fraction and grows steadily with it.
# * The Newton step uses the Hessian of what remains, :math:`H_{S\setminus G}`; its error is
#   only the curvature *variation* along the path (:doc:`Theorem 4.1 </theory>`:
#   :math:`L r^2 / (2\lambda_{\min})`, :math:`L` the Lipschitz constant of the Hessian). It
#   stays small until the removed group moves the fit far, where the logistic curvature at
#   :math:`\theta_0` no longer describes the curvature at :math:`\theta(S\setminus G)`.
# * The second-order group influence adds the first Neumann term of that Hessian change (and
#   the third-derivative term): the most accurate for small groups in the table above, but a
#   Taylor polynomial in the size of the removal, so it degrades faster than the Newton step
#   once the removal is large (compare the last rows).
#
# The rate itself: scale the removal of one fixed group continuously, :math:`w_G = \varepsilon
# \mathbf 1_G` (fractional weights), so :math:`g_G = \varepsilon g_1`. :doc:`Statement 4.3(a)
# </theory>` predicts errors :math:`O(\varepsilon^2)` for both: a log-log slope of 2.
group = mpt.subsets.removal_masks(n, 0.2, 1, rng=7)[0]
eps = np.logspace(-3, -0.7, 8)
W = 1.0 - eps[:, None] * (~group)[None, :]       # weights 1 - eps on the removed group
exact = learner.fit_subsets(X, y, W)
err_if = np.linalg.norm(mpt.baselines.influence(learner, X, y, W) - exact, axis=1)
err_nt = np.linalg.norm(mpt.baselines.newton_step(learner, X, y, W) - exact, axis=1)
slope_if = np.polyfit(np.log(eps), np.log(err_if), 1)[0]
slope_nt = np.polyfit(np.log(eps), np.log(err_nt), 1)[0]
print(f"log-log slope of the error against eps: influence {slope_if:.2f}, "
      f"Newton step {slope_nt:.2f} (predicted 2)")
# tolerance: the slope of a least-squares line through 8 pre-asymptotic points
assert abs(slope_if - 2) < 0.25 and abs(slope_nt - 2) < 0.25

fig, ax = plt.subplots(figsize=(6.2, 3.6))
ax.loglog(eps, err_if, "o-", label=f"influence (slope {slope_if:.2f})")
ax.loglog(eps, err_nt, "d-", label=f"Newton step (slope {slope_nt:.2f})")
ax.loglog(eps, err_if[0] * (eps / eps[0]) ** 2, "k:", lw=0.8, label="slope 2")
ax.set_xlabel(r"$\varepsilon$ (weight removed from each point of G)")
ax.set_ylabel(r"$\|\hat\theta - \theta(S_\varepsilon)\|$")
ax.legend()
fig.tight_layout()

# %%
# Ridge: the Newton step is exact
# -------------------------------
# For a quadratic loss the Hessian is constant along the path (:math:`L = 0` in :doc:`Theorem 4.1
# </theory>`), so one Newton step lands on the minimiser; the influence function still uses the
# wrong Hessian and keeps its first-order error.
reg = mpt.datasets.load("diabetes", seed=0)
ridge = mpt.learners.Ridge(lam=1.0)
masks = mpt.subsets.removal_masks(len(reg.y_train), 0.3, 20, rng=2)
exact = ridge.fit_subsets(reg.X_train, reg.y_train, masks)
newton = mpt.baselines.newton_step(ridge, reg.X_train, reg.y_train, masks)
infl = mpt.baselines.influence(ridge, reg.X_train, reg.y_train, masks)
gap_newton = np.max(mpt.setfn.relative_error(newton, exact))
gap_infl = np.median(mpt.setfn.relative_error(infl, exact))
print(f"ridge, 30% removed: Newton step max relative error {gap_newton:.1e}; "
      f"influence median {gap_infl:.2%}")
assert gap_newton < 1e-10  # tolerance: one float64 solve of a well-conditioned system

# %%
# What we learned
# ---------------
# Both shortcuts are one linear solve around the full fit, and the first figure shows how far
# each can be trusted: first-order influence is the worst at every removed fraction because it
# keeps the full fit's curvature; the Newton step, which uses the curvature of what remains,
# is far better, and it is the most accurate once large groups leave; the second-order group
# influence wins only for small groups. The second figure confirms the rate that the theory
# predicts: both errors are second order in the removed weight (slope 2 on log-log axes), so
# halving the removal quarters the error. For ridge the Newton step is exact. :ref:`Tutorial 5
# <sphx_glr_auto_examples_plot_05_classical_base.py>` builds on this: a learned correction over the
# Newton step beats both.
#
# Exercises
# ---------
# 1. Remove the points with the *largest* leave-one-out shift (:ref:`tutorial 1
#    <sphx_glr_auto_examples_plot_01_theta_of_s.py>`) instead of random    ones. Which approximation
#    suffers most, and why?
# 2. Repeat the first table with ``lam = 0.1``: the Hessian's smallest eigenvalue falls. How
#    do the errors change, and which term of :doc:`Theorem 4.1 </theory>` explains it?
# 3. Fit the log-log slope over larger :math:`\varepsilon` only (``np.logspace(-1, -0.3, 8)``).
#    Why does the measured slope drift away from 2?
#
# References
# ----------
# - P. W. Koh and P. Liang, "Understanding Black-box Predictions via Influence Functions",
#   ICML 2017.
# - P. W. Koh, K.-S. Ang, H. H. K. Teo and P. Liang, "On the Accuracy of Influence Functions
#   for Measuring Group Effects", NeurIPS 2019.
# - S. Basu, X. You and S. Feizi, "On Second-Order Group Influence Functions for Black-Box
#   Predictions", ICML 2020.
# - R. Giordano, W. Stephenson, R. Liu, M. Jordan and T. Broderick, "A Swiss Army
#   Infinitesimal Jackknife", AISTATS 2019 (the Newton step as a one-step estimator).
