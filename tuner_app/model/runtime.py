"""Loading TensorFlow for the command line: Keras 2, and without start-up noise.

TensorFlow's C++ runtime prints CUDA probing lines on every start, even on
machines without a GPU and before any log level applies. They would be the
first thing a user sees, so the import runs with the process's stderr
captured; if the import fails, what was captured is printed after all.
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def load_tensorflow(threads: int | None = None):
    """Imports TensorFlow, tf_keras and TFRS with stderr captured; returns `tensorflow`.

    Args:
        threads: TensorFlow's intra- and inter-op threads (None: its default, every core).
            Only takes effect before TensorFlow's runtime starts.
    """
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        return tf
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            import tensorflow_recommenders  # noqa: F401
            import tf_keras  # noqa: F401

            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            tf.constant(0)  # device start-up prints too
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    # TensorFlow's Python warnings (retracing, SavedModel configs) are about our
    # deliberate choices, not the user's; errors still show.
    tf.get_logger().setLevel("ERROR")
    if tf.keras.__name__.split(".")[0] != "tf_keras":
        raise ImportError(
            "tf.keras is Keras 3; TensorFlow Recommenders needs Keras 2: import tuner_app before "
            "tensorflow, or set TF_USE_LEGACY_KERAS=1 before the first TensorFlow import."
        )
    return tf
