"""keras-tuner 1.4.8's distributed mode, mended where it gets in the way."""

from __future__ import annotations


def silence_condition_print() -> None:
    """keras-tuner 1.4.8 left a debug `print(self.values[0])` in `conditions.Parent.to_proto`.

    Every gRPC message carrying a conditional hyperparameter (our per-layer
    widths) would print a bare number on the chief's and the workers' output.
    This swaps in the same method without the print, only if the installed
    keras-tuner still has it.
    """
    import inspect

    from keras_tuner.src import protos
    from keras_tuner.src.engine import conditions

    if "print(self.values[0])" not in inspect.getsource(conditions.Parent.to_proto):
        return

    def to_proto(self):
        proto = protos.get_proto()
        first = self.values[0]
        if isinstance(first, str):
            values = [proto.Value(string_value=v) for v in self.values]
        elif isinstance(first, bool):
            values = [proto.Value(boolean_value=v) for v in self.values]
        elif isinstance(first, int):
            values = [proto.Value(int_value=v) for v in self.values]
        else:
            values = [proto.Value(float_value=v) for v in self.values]
        return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))

    conditions.Parent.to_proto = to_proto
