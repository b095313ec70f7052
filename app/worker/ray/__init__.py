"""Everything that runs on Ray: the executor placing each job as a Ray task (executor.py), and data-parallel
training (data_parallel.py drives the Ray Train workers of train_worker.py, each training a replica.py).

Ray is imported only inside functions, so importing this package needs no Ray installed."""
