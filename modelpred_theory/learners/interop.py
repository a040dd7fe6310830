"""scikit-learn interop: the learner matching an estimator, and a fitted estimator from theta.

Our learners minimise F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2 (sum convention,
see docs/design.md); scikit-learn's linear models minimise C * sum_i loss_i + 1/2 ||w||^2 (or,
for Ridge, ||y - Xw - b||^2 + alpha ||w||^2 = 2 F_S), so

    LogisticRegression(C)                 <-> LogisticRegression(lam = 1 / C)
    LogisticRegression(C, "liblinear")    <-> LogisticRegression(1 / C, penalize_intercept=True)
    Ridge(alpha)                          <-> Ridge(lam = alpha)
    LinearSVC(C, loss="squared_hinge")    <-> SquaredHingeSVM(1 / C, penalize_intercept=True)

liblinear (LinearSVC, and LogisticRegression with solver="liblinear") fits the intercept as
the weight of a synthetic feature of constant value ``intercept_scaling`` s, so it penalises
(b / s)^2 / 2: with s = 1 that is our penalised intercept; other s have no counterpart here and
are refused. Settings without a counterpart (l1 / elastic-net penalties, class weights, no
intercept, one-vs-rest or Crammer-Singer multi-class, positive or multi-output ridge, ...) are
refused by name. ``to_sklearn`` lives in ``export`` (re-exported here).
"""

from __future__ import annotations

import numbers

import numpy as np

from .export import to_sklearn
from .logistic import LogisticRegression
from .ridge import Ridge
from .svm import SquaredHingeSVM

_SUPPORTED = "LogisticRegression, Ridge and LinearSVC (sklearn.linear_model / sklearn.svm)"


def _refuse(est, setting: str, why: str):
    raise ValueError(f"from_sklearn: {type(est).__name__}({setting}) has no counterpart among "
                     f"the library's learners: {why}")


def _inv_C(est, C) -> float:
    if isinstance(C, bool) or not isinstance(C, numbers.Real) or not np.isfinite(C) or C <= 0:
        _refuse(est, f"C={C!r}", "C must be a finite positive number (lam = 1 / C > 0)")
    return 1.0 / float(C)


def _fitted_classes(est):
    return getattr(est, "classes_", None)


def _common_checks(est, prm):
    if prm.get("class_weight") is not None:
        _refuse(est, f"class_weight={prm['class_weight']!r}",
                "class weights change the loss per class; pass sample_weight to fit instead")
    if prm.get("fit_intercept", True) is not True:
        _refuse(est, "fit_intercept=False", "every learner here fits an intercept b")


def _from_logistic(est, prm):
    _common_checks(est, prm)
    penalty = prm.get("penalty", "l2")
    if penalty not in ("l2", "deprecated"):
        _refuse(est, f"penalty={penalty!r}", "only the L2 penalty is supported")
    l1_ratio = prm.get("l1_ratio")
    if l1_ratio not in (None, 0, 0.0) and penalty != "l2":
        _refuse(est, f"l1_ratio={l1_ratio!r}", "only the L2 penalty (l1_ratio=0) is supported")
    lam = _inv_C(est, prm.get("C", 1.0))
    mc = prm.get("multi_class", getattr(est, "multi_class", "auto"))
    if mc == "ovr":
        _refuse(est, "multi_class='ovr'", "one-vs-rest is not the multinomial model")
    classes = _fitted_classes(est)
    pen_b = prm.get("solver") == "liblinear"
    if pen_b:
        if prm.get("intercept_scaling", 1) != 1:
            _refuse(est, f"solver='liblinear', intercept_scaling={prm['intercept_scaling']!r}",
                    "liblinear penalises (b / intercept_scaling)^2; only intercept_scaling=1 "
                    "(penalize_intercept=True) has a counterpart")
        if classes is not None and len(classes) > 2:
            _refuse(est, "solver='liblinear'", "liblinear fits multi-class problems one-vs-rest")
    return LogisticRegression(lam, classes=classes, penalize_intercept=pen_b)


def _from_ridge(est, prm):
    _common_checks(est, prm)
    alpha = prm.get("alpha", 1.0)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha) \
            or alpha < 0:
        _refuse(est, f"alpha={alpha!r}", "alpha must be one finite number >= 0 (lam = alpha); "
                "per-target alphas are not supported")
    if prm.get("positive", False):
        _refuse(est, "positive=True", "the coefficients are unconstrained here")
    coef = getattr(est, "coef_", None)
    if coef is not None and np.ndim(coef) == 2 and np.shape(coef)[0] > 1:
        _refuse(est, "multi-output", "Ridge here has one real-valued target")
    return Ridge(float(alpha))


def _from_linear_svc(est, prm):
    _common_checks(est, prm)
    if prm.get("penalty", "l2") != "l2":
        _refuse(est, f"penalty={prm['penalty']!r}", "only the L2 penalty is supported")
    if prm.get("loss", "squared_hinge") != "squared_hinge":
        _refuse(est, f"loss={prm['loss']!r}", "only loss='squared_hinge' is supported (the "
                "hinge loss is not differentiable)")
    if prm.get("multi_class", "ovr") != "ovr":
        _refuse(est, f"multi_class={prm['multi_class']!r}", "SquaredHingeSVM is binary")
    if prm.get("intercept_scaling", 1) != 1:
        _refuse(est, f"intercept_scaling={prm['intercept_scaling']!r}",
                "LinearSVC penalises (b / intercept_scaling)^2; only intercept_scaling=1 "
                "(penalize_intercept=True) has a counterpart")
    classes = _fitted_classes(est)
    if classes is not None and len(classes) != 2:
        _refuse(est, f"{len(classes)} classes", "SquaredHingeSVM is binary (2 classes)")
    return SquaredHingeSVM(_inv_C(est, prm.get("C", 1.0)), classes=classes,
                           penalize_intercept=True)


def from_sklearn(estimator):
    """The learner minimising the same objective as a scikit-learn estimator.

    Sum convention: F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2 with lam = 1 / C
    (alpha for Ridge); see the module docstring for the mapping and the refused settings.

    Parameters
    ----------
    estimator : sklearn.linear_model.LogisticRegression, Ridge or sklearn.svm.LinearSVC
        Fitted or not; a fitted classifier passes its ``classes_`` on to the learner.

    Returns
    -------
    ConvexLearner

    Raises
    ------
    ValueError
        An unsupported estimator, or a setting without a counterpart, named.
    """
    try:
        from sklearn.linear_model import LogisticRegression as SkLogistic
        from sklearn.linear_model import Ridge as SkRidge
        from sklearn.svm import LinearSVC
    except ImportError as exc:  # pragma: no cover - scikit-learn is a hard dependency
        raise ImportError("from_sklearn needs scikit-learn") from exc
    kind = type(estimator)
    if kind is SkLogistic:
        return _from_logistic(estimator, estimator.get_params())
    if kind is SkRidge:
        return _from_ridge(estimator, estimator.get_params())
    if kind is LinearSVC:
        return _from_linear_svc(estimator, estimator.get_params())
    raise ValueError(f"estimator must be one of {_SUPPORTED}, got {kind.__name__}")


__all__ = ["from_sklearn", "to_sklearn"]
