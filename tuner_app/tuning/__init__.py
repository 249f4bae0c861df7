"""A search and its trials, on keras-tuner: the HyperModel (the one place that reads
hyperparameter names), the oracles, the tuner, the trainer of one trial with its
epoch callback and checkpoints, the search from start to end, its console progress,
and `repeat`. These modules import TensorFlow and keras-tuner, except `progress` and `signals`."""
