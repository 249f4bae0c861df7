"""Distributed search on keras-tuner's chief/worker mode: who this process is (`roles`,
TensorFlow-free), the chief's serving loop (`chief`), a worker's (`worker`), what the
oracle adds for workers (`gate`), and `--parallel`'s local pool of workers (`pool`)."""
