"""Payload codecs: the native, TensorFlow Serving and Open Inference Protocol bodies to and from numpy batches.

Pure functions of bytes, numpy and a version's metadata: no TensorFlow, no HTTP, no I/O, so the unit tier tests
them directly. Every one of them decodes to one float32 batch shaped like the model's input, checked before the
batch may join others, and encodes back from the model's output rows.
"""
