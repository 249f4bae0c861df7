"""Keras's multi-step train and test functions, traced once per trial.

With `steps_per_execution` > 1, Keras 2 builds its train function as an
autograph loop, `for _ in tf.range(n): outputs = step(iterator)`. `outputs`
is undefined before the loop, so autograph traces the whole step once more
just to learn its structure. And the optimizer creates its slot variables
inside the first trace, which makes `tf.function` trace everything a second
time without variable creation. A trial therefore traced its train step four
times, most of what a new trial took before its first epoch.

Here the loop is a plain `tf.while_loop` whose log structure is declared up
front (the steps return fixed logs), and `create_optimizer_slots` makes the
slots before any tracing: one trace per trial. The functions do what Keras's
do on one device: next batch, step, count the step; the number of steps per
call is read from `model._steps_per_execution`, which Keras shortens for an
epoch's last partial execution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

Logs = dict[str, tf.Tensor]


def create_optimizer_slots(optimizer: tf.keras.optimizers.Optimizer, variables: Sequence[tf.Variable]) -> None:
    """Creates the optimizer's slot variables (Adagrad accumulators, Adam moments) now.

    Keras would create them in the first `apply_gradients`, inside the first
    trace of the train step, which makes `tf.function` trace it again.
    """
    if hasattr(optimizer, "_create_all_weights"):  # Keras 2 legacy optimizers
        optimizer._create_all_weights(variables)
    else:
        optimizer.build(variables)


def apply_gradients(optimizer: tf.keras.optimizers.Optimizer, grads_and_vars) -> None:
    """`optimizer.apply_gradients`, without the cross-replica sum when there is one replica.

    Keras sums gradients over replicas with `ReplicaContext.all_reduce` even
    on one device, where the sum is the gradient itself; in graph mode that
    call registers a `tf.custom_gradient` in TensorFlow's global gradient
    registry, never removed, whose closure keeps the whole traced train
    function alive: every trial of a search left one behind.
    """
    if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
        optimizer.apply_gradients(grads_and_vars)
    else:
        # Both Keras 2 optimizer generations take this keyword.
        optimizer.apply_gradients(grads_and_vars, experimental_aggregate_gradients=False)


#: Embedding tables up to this many values get dense gradients (see `densify_small`).
DENSE_GRADIENT_MAX_VALUES = 1 << 20


def densify_small(gradient, variable: tf.Variable):
    """A sparse embedding gradient as a dense one when the table is small.

    An embedding lookup's gradient is sparse (`IndexedSlices`, one row per
    looked-up id); applying it makes the optimizer de-duplicate the ids and
    scatter. For MovieLens-sized tables (a few thousand rows) adding the rows
    into a dense gradient and updating the whole table is cheaper. The update
    is the same: Keras 2's Adagrad leaves rows with a zero gradient unchanged,
    and its Adam decays every row's moments even on a sparse update.
    """
    if isinstance(gradient, tf.IndexedSlices) and variable.shape.num_elements() <= DENSE_GRADIENT_MAX_VALUES:
        return tf.convert_to_tensor(gradient)
    return gradient


def supports_looped_steps(model: tf.keras.Model) -> bool:
    """Whether the looped functions apply: graph mode, one device, no XLA."""
    return not (model.run_eagerly or model.jit_compile or tf.distribute.has_strategy()
                or model._cluster_coordinator is not None)


def looped_step_function(
    model: tf.keras.Model,
    step: Callable[[dict[str, tf.Tensor]], Logs],
    log_names: Sequence[str],
    counter: tf.Variable,
    finish: Callable[[], Logs] | None = None,
    autograph: bool = False,
) -> Callable:
    """A `tf.function` running `step` on the next `model._steps_per_execution` batches.

    Args:
        step: one step on one batch; returns float32 scalars named `log_names`.
        log_names: the names `step` returns, known before tracing.
        counter: the model's step counter (`_train_counter` or `_test_counter`).
        finish: more logs, computed once after the batches (figures that summarise
            state the steps accumulate, too costly to compute after each one).
        autograph: whether `step` needs autograph, which rewrites Python control flow on
            tensors into graph code. The project's own steps are written as graph code, and
            converting them took seconds at each process's first trial; TFRS's Retrieval task
            needs it (it takes `len` of a shape tensor).

    Returns:
        A function of a `tf.data` iterator returning the last step's logs, as
        Keras's `train_function` and `test_function` do.
    """
    log_names = tuple(log_names)

    def run(iterator) -> Logs:
        def body(i, logs):
            logs = step(next(iterator))
            if set(logs) != set(log_names):
                raise ValueError(f"the step returned logs {sorted(logs)}, declared {sorted(log_names)}")
            counter.assign_add(1)
            return i + 1, logs

        steps = model._steps_per_execution
        initial = {name: tf.zeros([], tf.float32) for name in log_names}
        _, logs = tf.while_loop(lambda i, _: i < steps, body, (tf.zeros([], steps.dtype), initial))
        return {**logs, **finish()} if finish is not None else logs

    return tf.function(run, reduce_retracing=True, autograph=autograph)
