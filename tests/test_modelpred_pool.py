"""ModelPred on a pool other than its training pool (the same points with 10% of the labels
flipped): a ForeignPoolWarning that says by how much the pool fit moved, and by default the
prediction of this pool's base alone, checked against baselines.newton_step / influence
computed independently on the new pool.

Parameters are theta(S) = argmin sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from modelpred_theory import ForeignPoolWarning, ModelPred, subsets
from modelpred_theory import baselines as B
from modelpred_theory.learners import LogisticRegression


def _problem(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = (X @ np.array([1.5, -1.0, 0.5]) + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def fitted():
    import torch

    torch.set_num_threads(1)
    X, y = _problem()
    lrn = LogisticRegression(1.0)
    models = {base: ModelPred(lrn, seed=0, base=base, width=32, rho_hidden=(32, 16), epochs=8,
                              n_permutations=10, min_size=10, progress=False).fit(X, y)
              for base in ("newton", None)}
    # a model this small may calibrate its gate shut; open it so the network's part is visible
    models["newton"].gate_.alpha[:] = 1.0
    flipped = y.copy()
    idx = np.random.default_rng(1).choice(len(y), size=len(y) // 10, replace=False)
    flipped[idx] = 1 - flipped[idx]
    masks = subsets.random_subsets(len(y), 6, rng=3, min_size=20, y=y, require_all_classes=True)
    return lrn, X, y, flipped, masks, models


@pytest.mark.torch
def test_own_pool_predicts_without_warning(fitted):
    lrn, X, y, _, masks, models = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("error", ForeignPoolWarning)
        out = models["newton"].predict(X, y, masks)
    # the correction is applied on the training pool: not the bare base
    assert not np.allclose(out, B.newton_step(lrn, X, y, masks), rtol=0, atol=1e-12)


@pytest.mark.torch
def test_flipped_labels_fall_back_to_the_base_with_a_warning(fitted):
    lrn, X, y, flipped, masks, models = fitted
    with pytest.warns(ForeignPoolWarning, match="not the pool this ModelPred was trained on") \
            as rec:
        out = models["newton"].predict(X, flipped, masks)
    np.testing.assert_allclose(out, B.newton_step(lrn, X, flipped, masks), rtol=1e-10,
                               atol=1e-12)
    msg = str(rec[0].message)
    shift = float(re.search(r"differs from the training pool's by ([\d.]+)%", msg).group(1))
    t_old, t_new = lrn.fit(X, y).theta, lrn.fit(X, flipped).theta
    assert shift == pytest.approx(100 * np.linalg.norm(t_new - t_old) / np.linalg.norm(t_old),
                                  abs=0.06)
    assert "base alone" in msg and "foreign_pool='correct'" in msg


@pytest.mark.torch
def test_foreign_pool_correct_applies_the_network(fitted):
    lrn, X, y, flipped, masks, models = fitted
    with pytest.warns(ForeignPoolWarning, match="applying the correction anyway"):
        out = models["newton"].predict(X, flipped, masks, foreign_pool="correct")
    assert not np.allclose(out, B.newton_step(lrn, X, flipped, masks), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="foreign_pool must be"):
        models["newton"].predict(X, y, masks, foreign_pool="net")


@pytest.mark.torch
def test_no_base_warns_with_its_error_on_the_new_pool(fitted):
    lrn, X, y, flipped, masks, models = fitted
    with pytest.warns(ForeignPoolWarning, match=r"no base to fall back to.* ([\d.]+)% off"):
        out = models[None].predict(X, flipped, masks)
    assert out.shape == (6, 4) and np.all(np.isfinite(out))
