"""Every DVC stage lists, in its ``deps``, exactly the project code it runs: the import closure of
its ``python -m`` module inside the project. Change a file a stage imports and DVC reruns it;
list a file it does not import and DVC reruns it for nothing. ``scratchnn`` counts as one dep
(the folder). An ``__init__.py`` holding only a docstring cannot change what a stage does, so it
is not required.
"""

import ast
from pathlib import Path

import pytest
import yaml

from pipeline.config import PROJECT_ROOT

PACKAGES = ("pipeline", "scratchnn")
LIBRARY = "scratchnn"  # a single dep: the whole folder


def module_file(module: str) -> Path | None:
    """The project file of ``module`` (``pipeline.stages.train`` -> pipeline/stages/train.py)."""
    base = PROJECT_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, module: str) -> set[str]:
    """Project modules that ``path`` imports anywhere (top level or inside a function)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # ``from pipeline import tracking`` imports the module pipeline.tracking.mlflow_runs
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in PACKAGES)
    return found


def with_parents(module: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a/__init__``, ``a/b/__init__`` and ``a/b/c``."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def is_trivial_init(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return path.name == "__init__.py" and all(
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body
    )


def import_closure(module: str) -> set[str]:
    """The project files (relative paths) that ``python -m module`` runs; scratchnn as one."""
    seen: set[str] = set()
    todo = with_parents(module)
    files: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.split(".")[0] == LIBRARY:
            files.add(LIBRARY)
            continue
        path = module_file(name)
        if path is None:  # ``from pipeline.x import some_function``: not a module
            continue
        if not is_trivial_init(path):
            files.add(path.relative_to(PROJECT_ROOT).as_posix())
        for imported in imported_modules(path, name):
            todo.extend(with_parents(imported))
    return files


def stages() -> dict[str, dict]:
    return yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]


def stage_module(stage: dict) -> str:
    words = stage["cmd"].split()
    assert words[:2] == ["python", "-m"], f"a stage runs `python -m <module>`: {stage['cmd']}"
    return words[2]


def code_deps(stage: dict) -> set[str]:
    """The deps that are project code (not data, not ${...} paths)."""
    deps = {str(dep) for dep in stage.get("deps", [])}
    return {dep for dep in deps if dep.split("/")[0] in PACKAGES}


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_are_its_import_closure(name):
    stage = stages()[name]
    closure = import_closure(stage_module(stage))
    deps = code_deps(stage)
    assert not closure - deps, f"dvc.yaml: stage {name} runs but does not list {closure - deps}"
    assert not deps - closure, f"dvc.yaml: stage {name} lists but never imports {deps - closure}"


def test_no_stage_imports_another_stage():
    files = {
        name: str(module_file(stage_module(s)).relative_to(PROJECT_ROOT))
        for name, s in stages().items()
    }
    for name, stage in stages().items():
        others = {files[other] for other in files if other != name}
        reached = import_closure(stage_module(stage)) & others
        assert not reached, f"stage {name} imports another stage: {reached}"


def test_fetch_does_not_load_the_network_library():
    """fetch downloads CSVs: a change in scratchnn must not make DVC download them again."""
    assert LIBRARY not in import_closure("pipeline.stages.fetch")


def test_the_closure_finds_lazy_and_relative_imports():
    """The checker itself: an import inside a function counts (tracking imports mlflow lazily,
    and our own modules may do the same)."""
    closure = import_closure("pipeline.stages.train")
    assert {"pipeline/stages/train.py", "pipeline/tracking/mlflow_runs.py", LIBRARY} <= closure
    assert "pipeline/stages/prepare.py" not in closure
