"""TensorFlow Serving's protocol, trimmed to what maas serves, and its compiled descriptors."""
