"""tuner_app: hyperparameter search for TensorFlow Recommenders retrieval models.

Importing the package is cheap: it never imports TensorFlow. It does set
`TF_USE_LEGACY_KERAS=1`, because TensorFlow Recommenders needs Keras 2
(`tf_keras`) and the variable is read once, when TensorFlow is first imported.
"""

from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
# TensorFlow's C++ start-up chatter hides the tool's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
