"""``AutoencoderOutlierDetector``: reconstruction-based outlier detection, scikit-learn style."""
from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .base import AekitEstimator
from .transformer import sample_scores, score_kind


class AutoencoderOutlierDetector(OutlierMixin, AekitEstimator):
    """Train an autoencoder on (mostly normal) rows; rows it reconstructs badly are outliers.

    scikit-learn's convention (as ``IsolationForest``): ``score_samples`` is higher for more normal
    rows (the reconstruction's log-likelihood, or the ELBO of a VAE: ``score_kind_``);
    ``decision_function`` = ``score_samples`` − ``offset_``, negative for outliers; ``predict`` gives
    +1 (inlier) or −1 (outlier). ``offset_`` (also ``threshold_``) is the ``contamination``
    quantile of the training rows' scores, so that share of the training rows is flagged.

    Fitted attributes: ``model_``, ``offset_``, ``threshold_``, ``score_kind_``, ``history_``,
    ``n_features_in_``.
    """

    _parameter_constraints: dict = {"contamination": [Interval(Real, 0, 0.5, closed="right")]}

    def __init__(self, model: str = "ae", net: str = "auto", latent_dim: int = 8, hidden: list[int] | None = None,
                 epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, input_shape: tuple[int, ...] | None = None,
                 options: dict[str, Any] | None = None, random_state: int | None = None, verbose: bool = False,
                 contamination: float = 0.1):
        super().__init__(model=model, net=net, latent_dim=latent_dim, hidden=hidden, epochs=epochs, batch_size=batch_size,
                         lr=lr, input_shape=input_shape, options=options, random_state=random_state, verbose=verbose)
        self.contamination = contamination

    def fit(self, X: Any, y: Any = None) -> AutoencoderOutlierDetector:
        """Train on the rows of ``X`` (``y`` is ignored) and set the threshold."""
        self._validate_params()
        X = self._validate(X, reset=True)
        net = self._train(X)
        self.model_ = net
        self.history_ = list(net.history)
        self.score_kind_ = score_kind(net)
        scores = sample_scores(net, self._rows_as_examples(X))
        self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        self.threshold_ = self.offset_
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Higher = more normal (see ``score_kind_``)."""
        x = self._model_input(X)
        return sample_scores(self.model_, x).astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) − offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, −1 for outliers."""
        check_is_fitted(self)
        out = np.ones(self._validate(X, reset=False).shape[0], dtype=int)
        out[self.decision_function(X) < 0] = -1
        return out


__all__ = ["AutoencoderOutlierDetector"]
