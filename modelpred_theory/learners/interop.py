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
refused by name.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._labels import check_classes
from ._validation import check_theta

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
    from .logistic import LogisticRegression

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
    from .ridge import Ridge

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
    from .svm import SquaredHingeSVM

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


def _theta_matrix(learner, theta, classes, n_features=None):
    """theta (p,) as (K, d + 1) with the classes it decodes to."""
    from .logistic import LogisticRegression
    from .svm import SquaredHingeSVM

    T = np.asarray(theta)
    if T.ndim != 1:
        raise ValueError(f"theta must have shape (p,), got {np.shape(theta)}")
    classes = check_classes(classes)
    if classes is None:
        classes = getattr(learner, "classes_", None)
    if n_features is not None:
        if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral) \
                or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        if T.size % (n_features + 1):
            raise ValueError(f"theta has {T.size} entries, not a multiple of n_features + 1 = "
                             f"{n_features + 1}")
    if isinstance(learner, LogisticRegression):
        rows = None if n_features is None else T.size // (n_features + 1)
        K = classes.size if classes is not None else (
            learner.n_classes or (2 if rows in (None, 1) else rows))
        if rows is not None and max(rows, 2) != K:
            raise ValueError(f"theta has {rows} class rows for n_features={n_features} but "
                             f"K={K} classes")
        if classes is None:
            classes = np.arange(K)
    elif isinstance(learner, SquaredHingeSVM):
        K = 2
        classes = np.array([-1, 1]) if classes is None else classes
        if classes.size != 2:
            raise ValueError(f"classes must list 2 labels for SquaredHingeSVM, got {classes.size}")
    else:
        K, classes = 1, None
        if n_features is not None and T.size != n_features + 1:
            raise ValueError(f"theta has {T.size} entries, not n_features + 1 = "
                             f"{n_features + 1}")
        if T.size < 2:
            raise ValueError(f"theta must have shape (d + 1,) with d >= 1, got {T.shape}")
    rows = 1 if K <= 2 else K
    if T.size % rows or T.size // rows < 2:
        raise ValueError(f"theta has {T.size} entries, not K (d + 1) for K={rows} and d >= 1 "
                         "(pass classes= for a multinomial model)")
    M = check_theta(T, T.size)[0].reshape(rows, -1)
    return M, classes


def to_sklearn(learner, theta, classes=None, n_features=None):
    """A fitted scikit-learn estimator whose predictions equal the learner's at theta.

    Sum convention: theta minimises (or approximates the minimiser of) F_S(theta) =
    sum_i w_i loss_i(theta) + lam/2 ||P theta||^2; the estimator gets C = 1 / lam (alpha = lam).

    Parameters
    ----------
    learner : ConvexLearner
    theta : ndarray of shape (p,)
    classes : array_like, optional
        Class labels (sorted; classes[j] is code j). Default: the learner's ``classes``, else
        the codes {0, ..., K-1} (logistic) or {-1, +1} (SVM). Needed for a multinomial theta
        when the learner has neither ``classes`` nor ``n_classes``.
    n_features : int, optional
        d, the number of features: checks the layout and, for logistic regression without
        ``classes`` / ``n_classes``, tells a multinomial theta (K (d + 1) entries) from a binary
        one; without it such a theta is read as binary.

    Returns
    -------
    sklearn.linear_model.LogisticRegression, Ridge or sklearn.svm.LinearSVC
        With ``coef_``, ``intercept_``, ``classes_`` (classifiers) and ``n_features_in_``; its
        predict / decision_function / predict_proba equal ``learner.predict`` etc. (the
        multinomial intercepts are centred, our gauge; softmax probabilities do not depend on
        it). Refitting the estimator on data reproduces the learner's fit for the mappings
        listed in the module docstring.
    """
    from sklearn.linear_model import LogisticRegression as SkLogistic
    from sklearn.linear_model import Ridge as SkRidge
    from sklearn.svm import LinearSVC

    from .logistic import LogisticRegression
    from .svm import SquaredHingeSVM

    M, classes = _theta_matrix(learner, theta, classes, n_features)
    d = M.shape[1] - 1
    C = np.inf if learner.lam == 0 else 1.0 / learner.lam
    if isinstance(learner, LogisticRegression):
        binary_pen = learner.penalize_intercept and M.shape[0] == 1
        est = SkLogistic(C=C, solver="liblinear" if binary_pen else "lbfgs")
        est.classes_ = np.asarray(classes)
    elif isinstance(learner, SquaredHingeSVM):
        est = LinearSVC(C=C, loss="squared_hinge", penalty="l2", intercept_scaling=1)
        est.classes_ = np.asarray(classes)
    else:
        est = SkRidge(alpha=learner.lam)
        est.coef_ = M[0, :d].copy()
        est.intercept_ = float(M[0, d])
        est.n_features_in_ = d
        return est
    est.coef_ = M[:, :d].copy()
    est.intercept_ = M[:, d].copy()
    est.n_features_in_ = d
    est.n_iter_ = np.zeros(1, dtype=np.int32)
    return est
