"""maas: a Keras model-as-a-service. Train neural networks over HTTP and serve their predictions."""

__version__ = "0.1.0"
