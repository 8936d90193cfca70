"""pyproject.toml declares what ragdesk imports, and ragdesk loads where POSIX-only modules are missing."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
POSIX_ONLY = {"resource", "fcntl", "termios", "pwd", "grp", "posix"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_canonical(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in requirements}


def _guarded(tree: ast.AST) -> set[int]:
    """ids of import nodes in ``except ImportError`` handlers: fallbacks for other versions."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None and any(
            isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in ast.walk(node.type)
        ):
            ids |= {id(n) for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return ids


def _imports():
    """(top-level module, file, line, at module level) for every absolute import in ragdesk/."""
    for path in sorted((ROOT / "ragdesk").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = _guarded(tree)
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield name.split(".")[0], path.relative_to(ROOT), node.lineno, id(node) in top_level


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_every_third_party_import_is_a_declared_dependency():
    declared = _declared()
    providers = importlib.metadata.packages_distributions()
    undeclared = []
    for module, path, line, _ in _imports():
        if module in sys.stdlib_module_names or module in ("ragdesk", "__future__"):
            continue
        dists = {_canonical(d) for d in providers.get(module, [])}
        if not dists & declared:
            undeclared.append(f"{path}:{line} imports {module} (from {sorted(dists) or 'nothing installed'})")
    assert not undeclared, "imported but not declared in pyproject.toml:\n" + "\n".join(undeclared)


def test_the_dependency_bounds_cover_the_features_used():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {_canonical(re.match(r"[A-Za-z0-9._-]+", r).group()): r for r in project["dependencies"]}
    assert ">=2" in deps["numpy"]  # np.bitwise_count
    assert ">=3.10" in deps["matplotlib"]  # boxplot(orientation=)
    assert "<0.4" in deps["llama-cpp-python"]  # private attributes of the 0.3 line
    assert "<3" in deps["huggingface-hub"]
    for name in ("numpy", "matplotlib", "llama-cpp-python", "huggingface-hub", "jinja2"):
        installed = importlib.metadata.version(name)
        assert Requirement(deps[name]).specifier.contains(installed, prereleases=True), (name, installed)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_no_posix_only_module_is_imported_at_module_level():
    offenders = [f"{p}:{line} {m}" for m, p, line, top in _imports() if top and m in POSIX_ONLY]
    assert not offenders, offenders
    # and the trainer, which reads peak memory through `resource`, loads without it (as on Windows)
    code = (
        "import sys; sys.modules['resource'] = None\n"
        "from ragdesk.training import trainer\n"
        "rss, gpu = trainer.peak_memory_mb()\n"
        "assert rss == 0 and gpu is None, rss\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
