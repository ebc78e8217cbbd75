"""scikit-learn common checks (``parametrize_with_checks``) that the estimators do not pass, with the
reason; the test suite runs every other check, and docs/SKLEARN.md lists these."""
from __future__ import annotations

SUBSET = ("the network computes in float32, and a matrix product's last bits depend on the batch size (the "
          "CPU kernels block by it): results on a subset differ from those on the whole by about 1e-7 relative, "
          "more than the check's tolerance of 1e-7 absolute")
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "AutoencoderTransformer": {"check_methods_subset_invariance": SUBSET},
    "AutoencoderOutlierDetector": {"check_methods_subset_invariance": SUBSET},
    "AutoencoderClassifier": {
        "check_methods_subset_invariance": "its float64 head reads codes computed in float32 by the network, whose last "
                                           "bits depend on the batch size (the CPU kernels block by it): decision_function "
                                           "on a subset differs from that on the whole by about 1e-6 relative, more than "
                                           "the check's tolerance of 1e-7 absolute",
        "check_classifiers_classes": "−1 marks an unlabelled row (scikit-learn's semi-supervised convention, as in "
                                     "SelfTrainingClassifier), so the check's labels {−1, 1} hold a single class",
    },
}

__all__ = ["EXPECTED_FAILED_CHECKS"]
