"""Where a training step's time goes: a `tf.profiler` trace of the app's own steps, by part of the model.

`profile_steps(model, dataset, steps)` traces `steps` training steps of a compiled
`MovielensModel` and sums each TensorFlow op's self time into the parts of
`PARTS`, by the op's name in the traced train function. Op time is summed over
TensorFlow's threads (two inter-op threads on this machine), so a step's parts add
up to more than its wall time; the input pipeline, mostly one epoch's shuffle, is
reported apart. Reading the trace needs xprof, TensorFlow's profile
converter (`pip install -e ".[bench]"`); without it the breakdown says so.
"""

from __future__ import annotations

import glob
import json
import tempfile
from collections import Counter

#: The input pipeline: tf.data's own ops, and those outside the train loop (each epoch's
#: shuffle and gather of every row). Mostly paid once an epoch, so reported apart.
PIPELINE = "input pipeline, with one epoch's shuffle of every row"

#: (part of a step, test on the op's name and type), first match wins.
PARTS = (
    ("loss kernel: score matrix, softmax, its gradients", lambda name, kind: "while/while/body" in name),
    ("optimizer update", lambda name, kind: "/Adam/" in name or "/Adagrad/" in name),
    ("query tower, backward", lambda name, kind: "gradient_tape" in name and "/tower/" in name),
    ("candidate tower, backward", lambda name, kind: "gradient_tape" in name and "/tower_1/" in name),
    ("query tower, forward", lambda name, kind: "/tower/" in name),
    ("candidate tower, forward", lambda name, kind: "/tower_1/" in name),
    ("gradients into dense tables (segment sums)", lambda name, kind: kind == "UnsortedSegmentSum"),
    ("the rest of the step (gathers, sums, the loss's own ops)", lambda name, kind: True),
)


def profile_steps(model, dataset, steps: int = 200) -> dict:
    """Traces `steps` training steps of `model` on `dataset`; milliseconds of op time a step, by part.

    The traced `fit` call starts a new epoch of `dataset`, so its input pipeline
    includes one epoch's shuffle; that is reported apart, in ms for the whole call.

    Returns:
        `{"steps": steps, "parts": {part: ms a step}, "total": ms a step,
        "pipeline_ms": ms in the call}`, or `{"error": why}` when the trace cannot be read.
    """
    import tensorflow as tf

    try:
        from xprof.convert import raw_to_tool_data
    except ImportError:
        return {"error": 'no xprof to read the trace (pip install -e ".[bench]")'}
    with tempfile.TemporaryDirectory(prefix="profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        finally:
            tf.profiler.experimental.stop()
        paths = sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))
        if not paths:
            return {"error": "the profiler wrote no trace"}
        data, _ = raw_to_tool_data.xspace_to_tool_data(paths[-1:], "framework_op_stats", {})
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    name, kind, self_time = columns.index("operation"), columns.index("type"), columns.index("total_self_time")
    parts: Counter = Counter({part: 0.0 for part, _ in PARTS})
    pipeline = 0.0
    for row in table["rows"]:
        values = [cell["v"] for cell in row["c"]]
        if values[kind] == "IDLE":
            continue
        if in_pipeline(values[name], values[kind]):
            pipeline += values[self_time] / 1000  # us -> ms
        else:
            parts[part_of(values[name], values[kind])] += values[self_time] / 1000 / steps  # us in all -> ms a step
    return {"steps": steps, "parts": dict(parts), "total": sum(parts.values()), "pipeline_ms": pipeline}


def in_pipeline(name: str, kind: str) -> bool:
    """Whether an op is the input pipeline's (`PIPELINE`) rather than a training step's."""
    return kind == "Dataset" or not name.startswith("while")


def part_of(name: str, kind: str) -> str:
    """The part of `PARTS` an op belongs to, by its name in the trace and its type."""
    return next(part for part, test in PARTS if test(name, kind))


def describe(profile: dict) -> str:
    """One line: each part's ms a step and share, largest first."""
    if "error" in profile:
        return f"not profiled: {profile['error']}"
    total = profile["total"]
    shown = ", ".join(f"{part} {ms:.2f} ms ({ms / total:.0%})"
                      for part, ms in sorted(profile["parts"].items(), key=lambda item: -item[1]) if ms >= 0.005)
    pipeline = (f"; {PIPELINE}: {profile['pipeline_ms']:.0f} ms in the {profile['steps']} steps"
                if "pipeline_ms" in profile else "")
    return (f"op time a step over {profile['steps']} profiled steps, both threads summed: {total:.1f} ms; "
            f"{shown}{pipeline}")
