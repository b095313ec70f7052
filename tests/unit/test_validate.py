"""Spec validation against real datasets, and shape/parameter inference, all without TensorFlow."""

from __future__ import annotations

from typing import Any

import pytest

from app.datasets.builtin import load_builtin
from app.datasets.inline import load_inline
from app.datasets.types import Dataset
from app.errors import InvalidSpec
from app.training.shapes import infer_stack
from app.training.spec import ModelSpec, TrainingSpec
from app.training.validate import validate_spec

MAX_PARAMS = 20_000_000
DIGITS_MLP: list[dict[str, Any]] = [
    {"type": "dense", "units": 32, "activation": "relu"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]
DIGITS_MLP_PARAMS = (64 * 32 + 32) + (32 * 10 + 10)  # 2410
RESHAPE_8X8 = {"type": "reshape", "target_shape": [8, 8, 1]}


@pytest.fixture(scope="module")
def datasets() -> dict[str, Dataset]:
    """The scikit-learn built-ins, loaded once for this module (they are read-only)."""
    return {name: load_builtin(name) for name in ("digits", "iris", "breast_cancer", "diabetes")}


def make_spec(
    layers: list[dict[str, Any]],
    loss: str | dict[str, Any] = "sparse_categorical_crossentropy",
    dataset: dict[str, Any] | None = None,
    **fields: Any,
) -> TrainingSpec:
    return TrainingSpec.model_validate(
        {
            "model_name": "test-model",
            "dataset": dataset or {"builtin": "digits"},
            "model": {"layers": layers},
            "loss": loss,
            **fields,
        }
    )


def errors_of(spec: TrainingSpec, data: Dataset, max_params: int = MAX_PARAMS) -> list[dict[str, Any]]:
    """The errors validate_spec reports (it must report some)."""
    with pytest.raises(InvalidSpec) as excinfo:
        validate_spec(spec, data, max_params)
    assert excinfo.value.errors, "InvalidSpec without errors"
    assert excinfo.value.detail == "; ".join(e["msg"] for e in excinfo.value.errors)
    return excinfo.value.errors


def locs(errors: list[dict[str, Any]]) -> list[list[str | int]]:
    return [e["loc"] for e in errors]


def layers(*specs: dict[str, Any]) -> list[Any]:
    return ModelSpec.model_validate({"layers": list(specs)}).layers


# --- specs that fit -------------------------------------------------------------------------------------


def test_a_digits_mlp_passes(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(DIGITS_MLP, metrics=["accuracy"], fit={"epochs": 2, "batch_size": 32, "validation_split": 0.2})

    assert validate_spec(spec, datasets["digits"], MAX_PARAMS) is None


def test_a_digits_conv_net_with_reshape_passes(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [
            RESHAPE_8X8,
            {"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu"},
            {"type": "max_pooling2d", "pool_size": 2},
            {"type": "batch_normalization"},
            {"type": "flatten"},
            {"type": "dropout", "rate": 0.2},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ]
    )

    validate_spec(spec, datasets["digits"], MAX_PARAMS)


def test_logits_with_a_linear_output_pass(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [{"type": "dense", "units": 10}], loss={"name": "sparse_categorical_crossentropy", "from_logits": True}
    )

    validate_spec(spec, datasets["digits"], MAX_PARAMS)


def test_binary_crossentropy_with_one_sigmoid_unit_passes_on_two_classes(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [{"type": "dense", "units": 1, "activation": "sigmoid"}],
        loss="binary_crossentropy",
        dataset={"builtin": "breast_cancer"},
        metrics=["binary_accuracy"],
    )

    validate_spec(spec, datasets["breast_cancer"], MAX_PARAMS)


def test_a_regression_mlp_passes_on_diabetes(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense", "units": 1}],
        loss="mse",
        dataset={"builtin": "diabetes"},
        metrics=["mae"],
    )

    validate_spec(spec, datasets["diabetes"], MAX_PARAMS)


def test_inline_classification_data_passes() -> None:
    data = load_inline([[0, 0], [0, 1], [1, 0], [1, 1]], ["no", "yes", "yes", "no"])
    spec = make_spec(
        [{"type": "dense", "units": 4, "activation": "tanh"}, {"type": "dense", "units": 2, "activation": "softmax"}],
        dataset={"inline": {"x": [[0, 0]], "y": ["no"]}},
        fit={"batch_size": 4},
    )

    assert (data.task, data.classes, data.rows) == ("classification", ["no", "yes"], 4)
    validate_spec(spec, data, MAX_PARAMS)


# --- the output head ------------------------------------------------------------------------------------


def test_one_sigmoid_unit_for_ten_classes_is_refused_at_the_units(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [{"type": "dense", "units": 32, "activation": "relu"}, {"type": "dense", "units": 1, "activation": "sigmoid"}]
    )

    errors = errors_of(spec, datasets["digits"])

    units = [e for e in errors if e["loc"] == ["model", "layers", 1, "units"]]
    assert len(units) == 1
    assert "10 classes" in units[0]["msg"]
    assert ["model", "layers", 1, "activation"] in locs(errors)  # sigmoid is not softmax either


def test_from_logits_after_softmax_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(DIGITS_MLP, loss={"name": "sparse_categorical_crossentropy", "from_logits": True})

    errors = errors_of(spec, datasets["digits"])

    assert locs(errors) == [["loss", "from_logits"]]
    assert "softmax" in errors[0]["msg"]


def test_a_linear_output_without_from_logits_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec([{"type": "dense", "units": 10}])

    errors = errors_of(spec, datasets["digits"])

    assert locs(errors) == [["model", "layers", 0, "activation"]]


def test_binary_crossentropy_on_three_classes_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [{"type": "dense", "units": 1, "activation": "sigmoid"}],
        loss="binary_crossentropy",
        dataset={"builtin": "iris"},
    )

    errors = errors_of(spec, datasets["iris"])

    assert locs(errors) == [["loss"]]
    assert "3" in errors[0]["msg"]


def test_an_output_that_is_not_a_vector_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec([RESHAPE_8X8, {"type": "conv2d", "filters": 10, "activation": "softmax"}])

    errors = errors_of(spec, datasets["digits"])

    assert locs(errors) == [["model", "layers", 1]]
    assert "flatten" in errors[0]["msg"]


# --- layers that cannot take their input ----------------------------------------------------------------


def test_conv2d_on_flat_input_is_refused_with_a_reshape_hint(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [
            {"type": "conv2d", "filters": 8},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ]
    )

    errors = errors_of(spec, datasets["digits"])

    assert locs(errors) == [["model", "layers", 0]]
    assert "reshape" in errors[0]["msg"]
    assert "[64]" in errors[0]["msg"]


def test_reshape_to_a_different_size_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [
            {"type": "reshape", "target_shape": [8, 8, 2]},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ]
    )

    errors = errors_of(spec, datasets["digits"])

    assert locs(errors) == [["model", "layers", 0]]
    assert "64" in errors[0]["msg"] and "128" in errors[0]["msg"]


def test_a_window_larger_than_the_image_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [
            RESHAPE_8X8,
            {"type": "conv2d", "filters": 4, "kernel_size": 9},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ]
    )

    assert locs(errors_of(spec, datasets["digits"])) == [["model", "layers", 1]]


# --- loss against the task ------------------------------------------------------------------------------


def test_a_regression_loss_on_a_classification_dataset_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec([{"type": "dense", "units": 3, "activation": "softmax"}], loss="mse", dataset={"builtin": "iris"})

    errors = errors_of(spec, datasets["iris"])

    assert locs(errors) == [["loss"]]
    assert "regression" in errors[0]["msg"] and "classification" in errors[0]["msg"]


def test_a_classification_loss_on_diabetes_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec([{"type": "dense", "units": 1}], dataset={"builtin": "diabetes"})

    errors = errors_of(spec, datasets["diabetes"])

    assert locs(errors) == [["loss"]]
    assert "regression" in errors[0]["msg"]


def test_a_regression_output_of_the_wrong_size_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec([{"type": "dense", "units": 2}], loss="mse", dataset={"builtin": "diabetes"})

    assert locs(errors_of(spec, datasets["diabetes"])) == [["model", "layers", 0]]


def test_a_classification_metric_on_regression_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [{"type": "dense", "units": 1}], loss="mse", dataset={"builtin": "diabetes"}, metrics=["mae", "accuracy"]
    )

    assert locs(errors_of(spec, datasets["diabetes"])) == [["metrics", 1]]


# --- fit settings and size ------------------------------------------------------------------------------


def test_a_batch_larger_than_the_rows_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [{"type": "dense", "units": 3, "activation": "softmax"}],
        dataset={"builtin": "iris"},
        fit={"batch_size": 151},
    )

    errors = errors_of(spec, datasets["iris"])

    assert locs(errors) == [["fit", "batch_size"]]
    assert "150" in errors[0]["msg"]


def test_the_batch_limit_counts_only_training_rows(datasets: dict[str, Dataset]) -> None:
    head = [{"type": "dense", "units": 3, "activation": "softmax"}]
    iris = {"builtin": "iris"}
    fits = make_spec(head, dataset=iris, fit={"batch_size": 120, "validation_split": 0.2})
    too_big = make_spec(head, dataset=iris, fit={"batch_size": 121, "validation_split": 0.2})

    validate_spec(fits, datasets["iris"], MAX_PARAMS)
    assert locs(errors_of(too_big, datasets["iris"])) == [["fit", "batch_size"]]


def test_early_stopping_on_validation_loss_without_validation_data_is_refused(
    datasets: dict[str, Dataset],
) -> None:
    spec = make_spec(DIGITS_MLP, fit={"early_stopping": {"monitor": "val_loss"}})

    assert locs(errors_of(spec, datasets["digits"])) == [["fit", "early_stopping", "monitor"]]


def test_a_model_over_max_params_is_refused(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(DIGITS_MLP)

    validate_spec(spec, datasets["digits"], DIGITS_MLP_PARAMS)
    errors = errors_of(spec, datasets["digits"], max_params=DIGITS_MLP_PARAMS - 1)

    assert locs(errors) == [["model"]]
    assert str(DIGITS_MLP_PARAMS) in errors[0]["msg"]


def test_several_mistakes_are_reported_at_once(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [{"type": "dense", "units": 32, "activation": "relu"}, {"type": "dense", "units": 1, "activation": "sigmoid"}],
        fit={"batch_size": 5000, "early_stopping": {"monitor": "val_loss"}},
    )

    errors = errors_of(spec, datasets["digits"], max_params=100)

    assert len(errors) >= 2
    found = locs(errors)
    for expected in (
        ["model", "layers", 1, "units"],
        ["model"],
        ["fit", "batch_size"],
        ["fit", "early_stopping", "monitor"],
    ):
        assert expected in found


# --- shape and parameter inference ----------------------------------------------------------------------


def test_infer_stack_computes_shapes_and_parameters_of_a_small_conv_net() -> None:
    stack = [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "valid"},
        {"type": "max_pooling2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 10},
    ]
    conv_params = 3 * 3 * 1 * 4 + 4  # kernel weights + one bias per filter = 40
    dense_params = 36 * 10 + 10  # 370
    expected = [([6, 6, 4], conv_params), ([3, 3, 4], conv_params), ([36], conv_params), ([10], 410)]

    for depth, (shape, params) in enumerate(expected, start=1):
        result = infer_stack(layers(*stack[:depth]), [8, 8, 1])
        assert (result.output, result.params, result.errors) == (shape, params, [])
    assert conv_params + dense_params == 410


def test_infer_stack_handles_same_padding_strides_and_batch_normalization() -> None:
    result = infer_stack(
        layers(
            {"type": "conv2d", "filters": 2, "kernel_size": [3, 3], "strides": 2, "padding": "same"},
            {"type": "batch_normalization"},
            {"type": "max_pooling2d", "pool_size": 3, "strides": 1, "padding": "same"},
            {"type": "dropout", "rate": 0.5},
        ),
        [8, 7, 1],
    )

    # conv: ceil(8/2) x ceil(7/2) x 2 with 3*3*1*2+2 = 20 params; batch norm: 4 per channel = 8
    assert (result.output, result.params, result.errors) == ([4, 4, 2], 28, [])


def test_infer_stack_counts_dense_without_bias_and_on_the_last_axis() -> None:
    result = infer_stack(layers({"type": "dense", "units": 5, "use_bias": False}), [3, 4])

    assert (result.output, result.params) == ([3, 5], 20)


def test_infer_stack_reports_the_first_layer_that_cannot_take_its_input() -> None:
    result = infer_stack(
        layers({"type": "dense", "units": 4}, {"type": "conv2d", "filters": 1}, {"type": "flatten"}),
        [10],
    )

    assert result.output is None
    assert result.params == 44  # the layers before the bad one are still counted
    assert locs(result.errors) == [["model", "layers", 1]]
    assert "conv2d" in result.errors[0]["msg"]


# Known app bug (app/training/shapes.py, the MaxPooling2D case of _layer): it returns `(_conv_like(...), 0)`, so
# when _conv_like answers with an error message, the message becomes the next layer's "shape" instead of an error.
def test_infer_stack_refuses_a_pooling_window_larger_than_the_image() -> None:
    result = infer_stack(layers({"type": "max_pooling2d", "pool_size": 9}), [8, 8, 1])

    assert result.output is None
    assert locs(result.errors) == [["model", "layers", 0]]


def test_max_pooling_on_flat_input_is_refused_with_a_reshape_hint(datasets: dict[str, Dataset]) -> None:
    spec = make_spec(
        [
            {"type": "max_pooling2d", "pool_size": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ]
    )

    errors = errors_of(spec, datasets["digits"])

    assert locs(errors) == [["model", "layers", 0]]
    assert "reshape" in errors[0]["msg"]
