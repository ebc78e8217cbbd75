"""``AutoencoderClassifier``: unsupervised pretraining on every row, then fine-tuning of the encoder
and a softmax head on the labelled rows."""
from __future__ import annotations

import dataclasses
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .base import AekitEstimator

UNLABELLED = -1


class AutoencoderClassifier(ClassifierMixin, AekitEstimator):
    """Pretrain an autoencoder on all rows of ``X`` (rows labelled −1 are unlabelled: they count for
    pretraining only, scikit-learn's semi-supervised convention), then train the encoder and a
    softmax head end to end on the labelled rows (``finetune_epochs``, ``finetune_lr``;
    ``freeze_encoder=True`` trains the head alone, a linear probe of the codes).

    Labels may be any values (strings too); ``classes_`` lists them in the order of
    ``predict_proba``'s columns. Fitted attributes: ``model_`` (the fine-tuned autoencoder),
    ``coef_`` (K, latent_dim) and ``intercept_`` (K,) of the head, ``classes_``, ``history_``
    (pretraining) and ``finetune_history_``.
    """

    _parameter_constraints: dict = {"finetune_epochs": [Interval(Integral, 0, None, closed="left")],
                                    "finetune_lr": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, model: str = "ae", net: str = "auto", latent_dim: int = 8, hidden: list[int] | None = None,
                 epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, input_shape: tuple[int, ...] | None = None,
                 options: dict[str, Any] | None = None, random_state: int | None = None, verbose: bool = False,
                 finetune_epochs: int = 20, finetune_lr: float = 1e-3, freeze_encoder: bool = False):
        super().__init__(model=model, net=net, latent_dim=latent_dim, hidden=hidden, epochs=epochs, batch_size=batch_size,
                         lr=lr, input_shape=input_shape, options=options, random_state=random_state, verbose=verbose)
        self.finetune_epochs = finetune_epochs
        self.finetune_lr = finetune_lr
        self.freeze_encoder = freeze_encoder

    def fit(self, X: Any, y: Any) -> AutoencoderClassifier:
        from ..models.finetune import EncoderClassifier
        from ..train import Trainer

        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2)
        check_classification_targets(y)
        labelled = ~_is_unlabelled(y)
        if not labelled.any():
            raise ValueError("every row is unlabelled (−1); fix: label some rows (at least one per class)")
        self.classes_, y_idx = np.unique(y[labelled], return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"the labelled rows hold only 1 class ({self.classes_[0]!r}); "
                             "fix: a classifier needs labelled rows of at least 2 classes")
        seed = self._seed()
        ae = self._train(X, seed=seed)
        self.history_ = list(ae.history)
        x_l = ae.to_model_space(ae.as_input(self._rows_as_examples(X[labelled]))[0]).detach().numpy()
        clf = EncoderClassifier(ae, len(self.classes_), freeze_encoder=self.freeze_encoder, init=ae.cfg.init)
        cfg = dataclasses.replace(ae.run_config.train, epochs=self.finetune_epochs, lr=self.finetune_lr, early_stopping=None,
                                  quiet=not self.verbose, seed=seed, schedule="none")
        self.finetune_history_ = Trainer(clf, cfg, progress=bool(self.verbose)).fit(x_l, y_idx.astype(np.int64))
        clf.cpu().eval()
        self.model_ = ae.eval()
        self.coef_ = clf.head.weight.detach().numpy().astype(np.float64)
        self.intercept_ = clf.head.bias.detach().numpy().astype(np.float64)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Class logits (N, K); for two classes the logit difference (N,), scikit-learn's shape."""
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if len(self.classes_) == 2 else logits

    def _logits(self, X: Any) -> np.ndarray:
        x = self._model_input(X)
        return np.asarray(self.model_.encode(x), dtype=np.float64) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, K), columns in the order of ``classes_``."""
        logits = self._logits(X)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(1)]


def _is_unlabelled(y: np.ndarray) -> np.ndarray:
    """True where y is the integer −1 (strings and other values are labels)."""
    if y.dtype.kind in "iu":
        return y == UNLABELLED
    if y.dtype.kind == "f":
        return y == float(UNLABELLED)
    return np.zeros(len(y), dtype=bool)


__all__ = ["AutoencoderClassifier"]
