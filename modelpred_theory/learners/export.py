"""scikit-learn export: a fitted scikit-learn estimator from a learner's theta (``to_sklearn``).

Sum convention (docs/design.md): theta minimises F_S(theta) = sum_i w_i loss_i(theta) +
lam/2 ||P theta||^2, and the estimator gets C = 1 / lam (alpha = lam for Ridge); see
``interop`` for the mapping both ways. The estimator kind follows the learner's family
(``learner.name``: "logistic", "ridge", "svm"); a learner without a scikit-learn counterpart is
refused by name.
"""

from __future__ import annotations

import numbers

import numpy as np

from .labels import check_classes
from .validation import check_theta

_EXPORTED = ("logistic", "ridge", "svm")


def _kind(learner) -> str:
    kind = getattr(learner, "name", None)
    if kind not in _EXPORTED:
        raise ValueError(f"to_sklearn: {type(learner).__name__} (family {kind!r}) has no "
                         "scikit-learn counterpart; only LogisticRegression, Ridge and "
                         "SquaredHingeSVM are exported")
    return kind


def _multinomial_readings(p: int) -> list[tuple[int, int]]:
    """The (K, d) with K >= 3 classes and d >= 1 features for which p = K (d + 1)."""
    return [(K, p // K - 1) for K in range(3, p // 2 + 1) if p % K == 0]


def _refuse_ambiguous_layout(p: int) -> None:
    """Refuse a logistic theta of p entries that also reads as a multinomial one (ValueError).

    Without the classes, K or d, p entries read as a binary model on d = p - 1 features, and
    as a multinomial model with K classes on p / K - 1 features for every divisor K >= 3 of p
    with p / K >= 2; taking the binary reading would silently export another model.
    """
    readings = _multinomial_readings(p)
    if not readings:
        return
    shown = ", ".join(f"K={K} classes on d={d}" for K, d in readings[:3])
    more = " ..." if len(readings) > 3 else ""
    raise ValueError(
        f"to_sklearn: theta has {p} entries, which reads as a binary model on d={p - 1} "
        f"features or as a multinomial model ({shown}{more}); pass classes= (the class labels, "
        "e.g. FitResult.classes_) or n_features= (d), or give the learner n_classes / classes")


def _theta_matrix(learner, theta, classes, n_features=None):
    """theta (p,) as (K, d + 1) with the classes it decodes to."""
    kind = _kind(learner)
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
    if kind == "logistic":
        if classes is None and learner.n_classes is None and n_features is None:
            _refuse_ambiguous_layout(T.size)
        rows = None if n_features is None else T.size // (n_features + 1)
        K = classes.size if classes is not None else (
            learner.n_classes or (2 if rows in (None, 1) else rows))
        if rows is not None and max(rows, 2) != K:
            raise ValueError(f"theta has {rows} class rows for n_features={n_features} but "
                             f"K={K} classes")
        if classes is None:
            classes = np.arange(K)
    elif kind == "svm":
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
        the codes {0, ..., K-1} (logistic) or {-1, +1} (SVM).
    n_features : int, optional
        d, the number of features: checks the layout and, for logistic regression without
        ``classes`` / ``n_classes``, tells a multinomial theta (K (d + 1) entries) from a binary
        one.

    Raises
    ------
    ValueError
        Before any work, naming the argument: a theta of the wrong shape or not finite,
        classes that do not fit it, and a logistic theta whose layout is ambiguous: when the
        learner has neither ``classes`` nor ``n_classes`` and neither ``classes`` nor
        ``n_features`` is passed, p entries are read as binary (d = p - 1) only if no
        multinomial reading p = K (d + 1) with K >= 3, d >= 1 exists (e.g. p prime);
        otherwise pass ``classes`` or ``n_features``.

    Returns
    -------
    sklearn.linear_model.LogisticRegression, Ridge or sklearn.svm.LinearSVC
        With ``coef_``, ``intercept_``, ``classes_`` (classifiers) and ``n_features_in_``; its
        predict / decision_function / predict_proba equal ``learner.predict`` etc. (the
        multinomial intercepts are centred, our gauge; softmax probabilities do not depend on
        it). Refitting the estimator on data reproduces the learner's fit for the mappings
        listed in the module docstring.
    """
    M, classes = _theta_matrix(learner, theta, classes, n_features)  # every check, before work
    from sklearn.linear_model import LogisticRegression as SkLogistic
    from sklearn.linear_model import Ridge as SkRidge
    from sklearn.svm import LinearSVC

    d = M.shape[1] - 1
    C = np.inf if learner.lam == 0 else 1.0 / learner.lam
    kind = _kind(learner)
    if kind == "logistic":
        binary_pen = learner.penalize_intercept and M.shape[0] == 1
        est = SkLogistic(C=C, solver="liblinear" if binary_pen else "lbfgs")
        est.classes_ = np.asarray(classes)
    elif kind == "svm":
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
