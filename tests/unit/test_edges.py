"""The architecture's edges, checked on the source: who may import the web framework, who may import TensorFlow, and
that no two app/ packages import each other.

Every `import` and `from ... import` node counts, including those inside functions (a lazy import still crosses
the edge), and so do `importlib.import_module("...")` and `__import__("...")` calls with a literal name.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "app"
UNIT_TESTS = Path(__file__).resolve().parent

WEB = {"fastapi", "starlette"}
ML = {"tensorflow", "keras", "tf_keras"}
WEB_ALLOWED = ("api/", "main.py")
ML_ALLOWED = ("training/", "serving/", "worker/")
GRPC = {"grpc", "grpc_health", "grpc_reflection", "tritonclient", "tensorflow_serving"}
GRPC_ALLOWED = ("grpc/",)


def imported_modules(source: str) -> set[str]:
    """Absolute module names imported anywhere in `source` (relative imports stay inside the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def app_imports() -> dict[str, set[str]]:
    """Path relative to app/ (posix) -> top-level packages it imports."""
    return {
        path.relative_to(APP).as_posix(): top_level(imported_modules(path.read_text()))
        for path in sorted(APP.rglob("*.py"))
    }


def offenders(packages: set[str], allowed: tuple[str, ...]) -> list[str]:
    return [
        f"app/{path} imports {sorted(found & packages)}"
        for path, found in app_imports().items()
        if found & packages and not path.startswith(allowed)
    ]


def test_import_scanner_finds_imports_inside_functions_and_dynamic_imports() -> None:
    source = """
import os
from json import dumps
from . import sibling

def late():
    import tensorflow as tf
    from fastapi.responses import JSONResponse
    return importlib.import_module("keras"), __import__("starlette.routing")
"""

    assert top_level(imported_modules(source)) == {"os", "json", "tensorflow", "fastapi", "keras", "starlette"}


def test_the_scanner_sees_the_known_edge_crossings() -> None:
    """Guards against a vacuous pass: the real importers must be found."""
    imports = app_imports()

    assert "fastapi" in imports["main.py"]
    assert any("fastapi" in found for path, found in imports.items() if path.startswith("api/"))
    assert any(found & ML for path, found in imports.items() if path.startswith("training/"))


def test_only_the_api_package_and_main_import_fastapi_or_starlette() -> None:
    assert offenders(WEB, WEB_ALLOWED) == []


def test_only_training_serving_and_worker_import_tensorflow_or_keras() -> None:
    assert offenders(ML, ML_ALLOWED) == []


def test_only_the_grpc_package_imports_grpcio_or_its_stubs() -> None:
    assert offenders(GRPC, GRPC_ALLOWED) == []


def test_unit_tests_import_no_tensorflow_web_framework_or_training_code() -> None:
    forbidden_packages = ML | WEB | {"httpx", "requests"}
    forbidden_modules = (
        "app.api",
        "app.main",
        "app.training.build",
        "app.training.fit",
        "app.training.publish",
        "app.worker.child",
        "app.worker.job_run",
        "app.worker.ray",
        "app.serving.model_cache",
    )
    found = []
    for path in sorted(UNIT_TESTS.rglob("*.py")):
        names = imported_modules(path.read_text())
        bad = sorted(n for n in names if n.split(".")[0] in forbidden_packages or n.startswith(forbidden_modules))
        if bad:
            found.append(f"{path.name}: {bad}")

    assert found == []


def test_modules_the_unit_tier_uses_load_without_tensorflow_or_fastapi() -> None:
    """Importing them in a fresh interpreter pulls in neither (a transitive import would slip past the ast scan)."""
    code = (
        "import sys\n"
        "import app.settings, app.errors, app.jobs.store, app.jobs.service, app.sweeps.store, app.registry\n"
        "import app.training.spec, app.training.shapes, app.training.validate, app.datasets\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'fastapi', 'starlette') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}

    child = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == ""


def package_of(path: str) -> str:
    """The package a file of app/ belongs to: `jobs` for jobs/store.py, `storage` for storage.py."""
    return path.split("/")[0].removesuffix(".py")


def package_edges() -> dict[str, dict[str, list[str]]]:
    """Package -> the other app/ packages it imports -> the files (under app/) that import each."""
    edges: dict[str, dict[str, list[str]]] = {}
    for path in sorted(APP.rglob("*.py")):
        source = path.relative_to(APP).as_posix()
        for name in imported_modules(path.read_text()):
            parts = name.split(".")
            if parts[0] == "app" and len(parts) > 1 and parts[1] != package_of(source) and source != "__init__.py":
                edges.setdefault(package_of(source), {}).setdefault(parts[1], []).append(source)
    return edges


def import_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every elementary cycle of the graph, once each, starting at its alphabetically first package."""
    cycles: list[list[str]] = []

    def extend(path: list[str]) -> None:
        for nxt in sorted(edges.get(path[-1], ())):
            if nxt == path[0]:
                cycles.append(path)
            elif nxt > path[0] and nxt not in path:
                extend([*path, nxt])

    for start in sorted(edges):
        extend([start])
    return cycles


def test_the_cycle_finder_names_every_cycle_once() -> None:
    edges = {"a": {"b"}, "b": {"a", "c"}, "c": {"a", "d"}, "d": set()}

    assert import_cycles(edges) == [["a", "b"], ["a", "b", "c"]]


def describe_cycle(cycle: list[str], edges: dict[str, dict[str, list[str]]]) -> str:
    """`a -> b -> a (a/x.py imports app.b; b/y.py imports app.a)`: the cycle and a file making each edge."""
    steps = zip(cycle, [*cycle[1:], cycle[0]], strict=True)
    files = "; ".join(f"{edges[a][b][0]} imports app.{b}" for a, b in steps)
    return f"{' -> '.join([*cycle, cycle[0]])} ({files})"


def test_no_import_cycles_between_app_packages() -> None:
    """A package that imports one which imports it back cannot be understood, tested or loaded on its own."""
    edges = package_edges()

    assert [describe_cycle(cycle, edges) for cycle in import_cycles(edges)] == []
