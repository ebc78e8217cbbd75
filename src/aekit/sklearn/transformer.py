"""``AutoencoderTransformer``: an autoencoder as a scikit-learn transformer (codes as features)."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .base import AekitEstimator

SCORE_KINDS = {
    "reconstruction": "log p(x | z = code(x)): the reconstruction's log-likelihood (nats, in the model's scaled units)",
    "elbo": "the ELBO, a lower bound on log p(x) (nats, in the model's scaled units; one seeded draw of z)",
}


def score_kind(net: Any) -> str:
    """Which figure a model's per-example score is (see :data:`SCORE_KINDS`)."""
    from ..models.base import Autoencoder

    return "reconstruction" if type(net).score is Autoencoder.score else "elbo"


def sample_scores(net: Any, X: np.ndarray) -> np.ndarray:
    """Per-example log-likelihood figure (higher: more likely) of model-shaped ``X``."""
    from ..tasks.anomaly import nll_scores

    return -nll_scores(net, X)


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, AekitEstimator):
    """Fit an autoencoder; ``transform`` gives codes (the posterior mean of probabilistic encoders),
    ``inverse_transform`` decodes codes back to rows (the decoder's mean).

    ``score_samples`` / ``score``: per-example log-likelihood figures, higher = more likely:
    ``score_kind_`` says which (``"reconstruction"``: log p(x | z = code(x)) for deterministic
    autoencoders; ``"elbo"``: the variational bound for VAEs and the semi-supervised families).

    >>> from aekit.sklearn import AutoencoderTransformer
    >>> Z = AutoencoderTransformer(latent_dim=2, epochs=5, random_state=0).fit_transform(X)   # doctest: +SKIP

    Fitted attributes: ``model_`` (the aekit model), ``n_features_in_``, ``history_`` (one dict per
    epoch), ``score_kind_``, ``feature_names_in_`` (for DataFrames).
    """

    def fit(self, X: Any, y: Any = None) -> AutoencoderTransformer:
        """Train on the rows of ``X`` (``y`` is ignored: an autoencoder needs no labels)."""
        X = self._validate(X, reset=True)
        net = self._train(X)
        self.model_ = net
        self.history_ = list(net.history)
        self.score_kind_ = score_kind(net)
        self._n_features_out = int(net.cfg.latent_dim)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Codes (N, latent_dim)."""
        check_is_fitted(self)
        Xv = self._validate(X, reset=False)
        return self._like(self.model_.encode(self._rows_as_examples(Xv)), Xv)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Rows (N, n_features_in_) decoded from codes ``X`` (N, latent_dim)."""
        check_is_fitted(self)
        from sklearn.utils import check_array

        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self._n_features_out:
            raise ValueError(f"X has {Z.shape[1]} features (codes), but {type(self).__name__} makes codes of "
                             f"{self._n_features_out}; fix: give codes from transform()")
        out = np.asarray(self.model_.decode(Z.astype(np.float32)))
        return self._like(out.reshape(len(Z), -1), Z)

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-example log-likelihood figure (higher = more likely; ``score_kind_`` says which)."""
        x = self._model_input(X)
        return sample_scores(self.model_, x).astype(np.float64)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean of :meth:`score_samples`."""
        return float(np.mean(self.score_samples(X)))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


__all__ = ["AutoencoderTransformer", "SCORE_KINDS", "score_kind", "sample_scores"]
