"""Message classes of TensorFlow Serving's protocol, built from the vendored, trimmed .proto files in a private
descriptor pool, and the pool that server reflection describes every service from.

Why not `tensorflow-serving-api`: its modules import `tensorflow.core.framework`, which imports all of TensorFlow
and Keras (~5 s and ~650 MB in an API process that otherwise serves ONNX without ever loading TensorFlow). Why a
private pool: the same names in the default pool would clash with the real `tensorflow_serving` modules in any
process that imports both (a test, or an app that embeds maas and is itself a TF Serving client).
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FileDescriptor, ServiceDescriptor

from app.grpc.protos.descriptors import FILE_DESCRIPTOR_SET_B64

POOL = descriptor_pool.DescriptorPool()
for _file in descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode("".join(FILE_DESCRIPTOR_SET_B64))).file:
    POOL.Add(_file)


def message(full_name: str) -> Any:
    """The message class of `full_name` in the private pool."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


PREDICTION_SERVICE: ServiceDescriptor = POOL.FindServiceByName("tensorflow.serving.PredictionService")
MODEL_SERVICE: ServiceDescriptor = POOL.FindServiceByName("tensorflow.serving.ModelService")
DATA_TYPE = POOL.FindEnumTypeByName("tensorflow.DataType")

ModelSpec = message("tensorflow.serving.ModelSpec")
TensorProto = message("tensorflow.TensorProto")
PredictResponse = message("tensorflow.serving.PredictResponse")
SignatureDefMap = message("tensorflow.serving.SignatureDefMap")
GetModelMetadataResponse = message("tensorflow.serving.GetModelMetadataResponse")
GetModelStatusResponse = message("tensorflow.serving.GetModelStatusResponse")


def describe(*files: FileDescriptor) -> descriptor_pool.DescriptorPool:
    """The private pool, with `files` (generated modules' descriptors) and their imports added, for reflection."""
    for file in files:
        _add(file)
    return POOL


def _add(file: FileDescriptor) -> None:
    try:
        POOL.FindFileByName(file.name)
        return
    except KeyError:
        pass
    for dependency in file.dependencies:
        _add(dependency)
    POOL.Add(descriptor_pb2.FileDescriptorProto.FromString(file.serialized_pb))
