"""The model, in TensorFlow: features and pipelines, the towers, the retrieval model, its loss,
its train and test steps, the exact top-k metric, and `build` (a compiled model from a
`ModelConfig`). `runtime.load_tensorflow` is how the tool first imports TensorFlow.

Importing this package imports nothing; its modules import TensorFlow.
"""
