"""The Keras classes a `keras_config` may name: built-in layers that compute on tensors and nothing else.

An allow-list, not a deny-list: whatever Keras adds later is refused until it is read and listed here. Left out on
purpose: `Lambda` and the `__lambda__` marker (they run code), `TFSMLayer` (loads a SavedModel from a path), the
lookup, hashing and vectorization layers (a `vocabulary` may be a file path), the other preprocessing and
augmentation layers, `JaxLayer`, `FlaxLayer` and `TorchModuleWrapper` (foreign code), quantized dtype policies,
and every custom or registered class.
"""

from __future__ import annotations

LAYERS = frozenset(
    {
        # core, activations and merging
        *("InputLayer", "Dense", "EinsumDense", "Embedding", "Identity", "Masking", "Activation"),
        *("ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"),
        *("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"),
        # convolution
        *("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"),
        *("Convolution1D", "Convolution2D", "Convolution3D"),
        *("Convolution1DTranspose", "Convolution2DTranspose", "Convolution3DTranspose"),
        *("SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D"),
        *("DepthwiseConv1D", "DepthwiseConv2D"),
        # pooling
        *("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D"),
        *("AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D"),
        *("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D"),
        *("GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D"),
        *("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D"),
        *("GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D"),
        # recurrent
        *("LSTM", "GRU", "SimpleRNN", "RNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells"),
        *("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Bidirectional", "TimeDistributed"),
        # normalization and regularization
        *("BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization"),
        *("RMSNormalization", "SpectralNormalization"),
        *("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout"),
        *("GaussianNoise", "AlphaDropout", "ActivityRegularization"),
        # attention
        *("Attention", "AdditiveAttention", "MultiHeadAttention", "GroupQueryAttention"),
        # reshaping
        *("Reshape", "Flatten", "RepeatVector", "Permute", "Cropping1D", "Cropping2D", "Cropping3D"),
        *("UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"),
    }
)
MODELS = frozenset({"Sequential", "Functional", "Model"})
POLICIES = frozenset({"DTypePolicy", "FloatDTypePolicy"})
INITIALIZERS = frozenset(
    {
        *("Constant", "Zeros", "Ones", "Identity", "IdentityInitializer", "Orthogonal", "OrthogonalInitializer"),
        *("GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform"),
        *("RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling"),
    }
)
REGULARIZERS = frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"})
CONSTRAINTS = frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"})
KERAS_TENSOR = "__keras_tensor__"  # a Functional model's wiring between layers: data, not a class

# Allowed class names by the `module` a config gives; without a module Keras looks the name up among its own.
ALLOWED: dict[str | None, frozenset[str]] = {
    "keras": MODELS | POLICIES,
    "keras.models": MODELS,
    "keras.src.models.functional": frozenset({"Functional"}),
    "keras.src.models.sequential": frozenset({"Sequential"}),
    "keras.src.models.model": frozenset({"Model"}),
    "keras.layers": LAYERS,
    "keras.initializers": INITIALIZERS,
    "keras.regularizers": REGULARIZERS,
    "keras.constraints": CONSTRAINTS,
    "keras.dtype_policies": POLICIES,
    None: MODELS | POLICIES | LAYERS | INITIALIZERS | REGULARIZERS | CONSTRAINTS | {KERAS_TENSOR},
}


def allowed(class_name: object, module: object, registered_name: object) -> bool:
    """Whether a config object may be deserialized: a listed built-in, named as Keras names its own."""
    names = ALLOWED.get(module) if module is None or isinstance(module, str) else None
    if names is None or not isinstance(class_name, str):
        return False
    return class_name in names and registered_name in (None, class_name)
