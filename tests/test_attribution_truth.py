"""Exact ground truth for data attribution: outputs and their gradients, ground truth, evaluate."""

import numpy as np
import pytest

import modelpred_theory as mpt
from modelpred_theory.attribution import output_grads, outputs


def _multiclass(n=40, m=7, d=3, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    W = rng.normal(size=(K, d))
    y = np.argmax(X @ W.T + rng.normal(scale=1.0, size=(n + m, K)), axis=1)
    y[:K] = np.arange(K)
    return X[:n], y[:n], X[n:], y[n:]


def _binary(n=40, m=6, d=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    y = (X[:, 0] + 0.7 * rng.normal(size=n + m) > 0).astype(int)
    y[:2] = [0, 1]
    return X[:n], y[:n], X[n:], y[n:]


@pytest.mark.parametrize("problem,kind", [("multinomial", "margin"), ("multinomial", "neg_loss"),
                                          ("binary", "margin"), ("binary", "neg_loss"),
                                          ("ridge", "neg_loss")])
def test_output_grads_match_finite_differences(kind, problem):
    if problem == "multinomial":
        X, y, Xt, yt = _multiclass()
        learner = mpt.learners.LogisticRegression(lam=1.0)
    elif problem == "binary":
        X, y, Xt, yt = _binary()
        learner = mpt.learners.LogisticRegression(lam=1.0)
    else:
        X, y, Xt, _ = _binary()
        rng = np.random.default_rng(2)
        y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=X.shape[0])
        yt = Xt @ np.array([1.0, -2.0, 0.5])
        learner = mpt.learners.Ridge(lam=1.0)
    theta = learner.fit(X, y).theta
    G = output_grads(learner, theta, Xt, yt, kind)
    assert G.shape == (Xt.shape[0], theta.size)
    h = 1e-6
    E = np.eye(theta.size)
    fd = (outputs(learner, theta + h * E, Xt, yt, kind)
          - outputs(learner, theta - h * E, Xt, yt, kind)) / (2 * h)  # shape: (p, m)
    np.testing.assert_allclose(G, fd.T, rtol=1e-6, atol=1e-7)
    # the gradient is not trivially zero (a wrong sign or a dropped class would show)
    assert np.abs(G).max() > 1e-2


def test_margin_refused_for_regression():
    X, y, Xt, _ = _binary()
    learner = mpt.learners.Ridge(lam=1.0)
    theta = learner.fit(X, y.astype(float)).theta
    with pytest.raises(ValueError, match="output='margin' needs a classifier"):
        outputs(learner, theta, Xt, np.zeros(Xt.shape[0]), "margin")
    with pytest.raises(ValueError, match="output must be one of"):
        output_grads(learner, theta, Xt, np.zeros(Xt.shape[0]), "loss")


def test_lds_model_outputs_is_the_shared_definition():
    """Regression identity: applications.lds.model_outputs returns attribution.outputs."""
    from modelpred_theory.applications.lds import model_outputs

    X, y, Xt, yt = _multiclass()
    learner = mpt.learners.LogisticRegression(lam=1.0)
    thetas = learner.fit_subsets(X, y, np.ones((2, X.shape[0]), bool))
    for kind in ("margin", "neg_loss"):
        np.testing.assert_array_equal(model_outputs(learner, thetas, Xt, yt, kind),
                                      outputs(learner, thetas, Xt, yt, kind))
