"""The optimizers a trial can use: Keras 2's Adagrad and Adam, and a lazy Adam for big tables.

Keras 2's `legacy` optimizers apply updates with TensorFlow's fused kernels (also
for the embeddings' sparse gradients), which is faster than the Python-level
updates of `tf.keras.optimizers.Adagrad` (figures in benchmarks/HISTORY.md).
Same algorithms and defaults; the only difference is where Adagrad's epsilon
(1e-7) enters: sqrt(acc) + eps instead of sqrt(acc + eps), with the accumulator
starting at 0.1.
"""

from __future__ import annotations

import tensorflow as tf


class LazyAdam(tf.keras.optimizers.legacy.Adam):
    """Adam that, on a sparse gradient, updates only the rows the batch looked up.

    Keras's Adam decays both moments of every row of an embedding table and
    moves every row on each step, even when the gradient is sparse. This is the
    lazy variant of TF Addons' `LazyAdam` and PyTorch's `SparseAdam`: rows absent
    from the batch keep their moments and values until they are looked up
    again. Whether it saves time at a given size is for the scale benchmark to
    say (README's "Bigger releases"): at ml-10m's shape its epochs took 61 s
    against Adam's 94 s, in one run. Dense gradients get Keras's Adam unchanged: the dense layers, and the tables small enough for
    `steps.densify_small` (all of MovieLens 100k's, where this is plain Adam).
    """

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        # The ids are unique here: OptimizerV2 sums duplicate rows before calling this.
        device, dtype = var.device, var.dtype.base_dtype
        coefficients = (apply_state or {}).get((device, dtype)) or self._fallback_apply_state(device, dtype)
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        m_rows = coefficients["beta_1_t"] * tf.gather(m, indices) + coefficients["one_minus_beta_1_t"] * grad
        v_rows = (coefficients["beta_2_t"] * tf.gather(v, indices)
                  + coefficients["one_minus_beta_2_t"] * tf.square(grad))
        step = coefficients["lr"] * m_rows / (tf.sqrt(v_rows) + coefficients["epsilon"])
        # A gather and scatter_update, not scatter_sub: TensorFlow's CPU scatter_sub
        # goes row by row through Eigen and took 5x as long on 2,000 rows of a
        # 70,000-row table.
        return tf.group(
            m.scatter_update(tf.IndexedSlices(m_rows, indices)),
            v.scatter_update(tf.IndexedSlices(v_rows, indices)),
            var.scatter_update(tf.IndexedSlices(tf.gather(var, indices) - step, indices)),
        )


OPTIMIZER_CLASSES = {
    "adagrad": tf.keras.optimizers.legacy.Adagrad,
    "adam": tf.keras.optimizers.legacy.Adam,
    "lazy_adam": LazyAdam,
}


def make_optimizer(name: str, learning_rate: float) -> tf.keras.optimizers.Optimizer:
    """The optimizer called `name` (one of `space.names.OPTIMIZERS`), Keras's defaults otherwise."""
    if name not in OPTIMIZER_CLASSES:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZER_CLASSES)}")
    return OPTIMIZER_CLASSES[name](learning_rate)
