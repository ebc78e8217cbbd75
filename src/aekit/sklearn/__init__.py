"""scikit-learn estimators on aekit models: transformer, outlier detector, classifier.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from aekit.sklearn import AutoencoderTransformer

    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(latent_dim=2, epochs=10, random_state=0))
    Z = pipe.fit_transform(X)

Each trains through ``aekit.fit`` (the same configs, models and Trainer as ``aekit train``); the
parameters map to config keys (``options`` takes any other key). Persistence: ``pickle`` / ``joblib``
store plain data (config and safetensors bytes), ``save(path)`` / ``load(path)`` a run folder.
"""
from __future__ import annotations

from .classifier import AutoencoderClassifier
from .outliers import AutoencoderOutlierDetector
from .transformer import AutoencoderTransformer

__all__ = ["AutoencoderTransformer", "AutoencoderOutlierDetector", "AutoencoderClassifier"]
