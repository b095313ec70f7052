"""Which backend a job gets, and how many steps per call `steps_per_execution: "auto"` picks."""

from __future__ import annotations

from app.training.backends import (
    AUTO_MAX_STEPS,
    auto_steps_per_execution,
    backend_of,
    default_backend,
    installed,
    resolve_backend,
)


def test_auto_is_the_configured_backend_else_jax_where_installed() -> None:
    assert resolve_backend("auto", "tensorflow") == "tensorflow"
    assert resolve_backend("auto", "jax") == "jax"
    assert resolve_backend("auto") == ("jax" if installed("jax") else "tensorflow") == default_backend()


def test_a_named_backend_is_kept_and_data_parallel_auto_is_tensorflow() -> None:
    assert resolve_backend("jax", "tensorflow") == "jax"
    assert resolve_backend("tensorflow", "jax") == "tensorflow"
    assert resolve_backend("auto", "jax", workers=2) == "tensorflow"


def test_a_stored_spec_names_its_backend_and_scoring_jobs_load_tensorflow() -> None:
    assert backend_of({"backend": "jax"}) == "jax"
    assert backend_of({}, "tensorflow") == "tensorflow"
    assert backend_of({"backend": "auto", "resources": {"workers": 4}}, "jax") == "tensorflow"
    assert backend_of({"backend": "jax"}, kind="evaluate") == "tensorflow"


def test_auto_steps_amortise_small_models_and_never_cross_an_epoch() -> None:
    mlp = 109_386  # the MNIST MLP 784-128-64-10
    small_batch = auto_steps_per_execution(params=mlp, batch_size=32, steps_per_epoch=1875)
    large_batch = auto_steps_per_execution(params=mlp, batch_size=512, steps_per_epoch=118)
    assert small_batch > large_batch > 1
    assert auto_steps_per_execution(params=mlp, batch_size=32, steps_per_epoch=10) == 10
    assert auto_steps_per_execution(params=10, batch_size=1, steps_per_epoch=10**6) == AUTO_MAX_STEPS
    assert auto_steps_per_execution(params=50_000_000, batch_size=256, steps_per_epoch=100) == 1
