"""Layering rules of the package, checked on the direct imports of every module (read with `ast`).

(a) generation/ never imports training/ or evaluation/
(b) training/ never imports geo (it sees numpy arrays and tf.data, not files with CRSs)
(c) only geo.py imports osgeo (the one module that talks to GDAL)
(d) only cli/ imports pix2pix_sar.cli or click
(e) no library module reaches the CLI, even through a chain of imports
(f) no import cycles at module level, between modules and between top-level subpackages
(g) imports inside function bodies are for heavy modules only (tensorflow, keras,
    matplotlib, scipy, or a pix2pix_sar module that imports one of them at its top),
    so that a light import stays visible at the top of its module; cli/ commands
    import library modules in their bodies as a rule (``--help`` stays instant).
(h) no library message names a CLI flag: it names the setting with errors.option(field),
    which the CLI shows as the option (``max_nodata`` -> ``--max-nodata``)
(h) segmentation/ never imports evaluation/ (evaluation scores the segmenter segmentation/ trains)
(i) only run_folder.py reads or writes run.json: no other module names the file outside its
    docstrings and comments, or touches a run folder's ``run_json`` (they ask the RunFolder)
(j) no module is longer than MAX_LINES, except those LONG_MODULES names with the reason
    each is still one concern

Dynamic imports (``importlib.import_module``) are not seen.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "pix2pix_sar"
CLI = f"{PACKAGE}.cli"
#: `python -m pix2pix_sar` runs the CLI: it belongs to the CLI side.
CLI_SIDE = (CLI, f"{PACKAGE}.__main__")
HEAVY_THIRD_PARTY = frozenset({"tensorflow", "keras", "matplotlib", "scipy"})
GDAL_MODULES = frozenset({"osgeo", "gdal", "ogr", "osr"})


@dataclass(frozen=True)
class Import:
    importer: str  # the module that imports
    target: str  # the dotted module it imports
    line: int
    top_level: bool  # runs when the importer is imported (not inside a function body)
    path: str  # the importer's file, relative to the repository root

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def parents(name: str) -> list[str]:
    """The packages Python imports before `name`: a.b.c -> [a, a.b]."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


class _ImportVisitor(ast.NodeVisitor):
    def __init__(self, importer: str, is_package: bool, known: frozenset[str], path: str):
        self.importer, self.is_package, self.known, self.path = importer, is_package, known, path
        self.depth = 0  # function nesting
        self.found: list[Import] = []

    def _add(self, target: str, node: ast.AST) -> None:
        self.found.append(Import(self.importer, target, node.lineno, self.depth == 0, self.path))

    def _function(self, node: ast.AST) -> None:
        # Decorators and defaults run with the enclosing scope; only the body is deferred.
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.importer.split(".")
            if not self.is_package:
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        if base == "__future__":
            return
        targets = []
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            # `from pkg import submodule` imports the submodule.
            target = candidate if candidate in self.known else base
            if target not in targets:
                targets.append(target)
        for target in targets:
            self._add(target, node)


def scan_source(
    source: str, importer: str, is_package: bool = False, known: Iterable[str] = (), path: str = ""
) -> list[Import]:
    visitor = _ImportVisitor(importer, is_package, frozenset(known), path or importer)
    visitor.visit(ast.parse(source))
    return visitor.found


@cache
def package_imports() -> dict[str, list[Import]]:
    """module name -> its direct imports, for every module of the package."""
    files = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        files[".".join(parts)] = (path, is_package)
    known = frozenset(files)
    return {
        name: scan_source(path.read_text(), name, is_package, known, str(path.relative_to(ROOT)))
        for name, (path, is_package) in files.items()
    }


def heavy_modules(imports: Mapping[str, list[Import]]) -> set[str]:
    """Modules whose import (with their parent packages') loads a heavy third-party module."""
    heavy: set[str] = set()

    def loads_heavy(imp: Import) -> bool:
        if imp.target.split(".")[0] in HEAVY_THIRD_PARTY:
            return True
        return within(imp.target, PACKAGE) and is_heavy_import(imp.target, heavy)

    changed = True
    while changed:
        changed = False
        for name, found in imports.items():
            if name in heavy:
                continue
            if any(imp.top_level and loads_heavy(imp) for imp in found) or any(p in heavy for p in parents(name)):
                heavy.add(name)
                changed = True
    return heavy


def is_heavy_import(target: str, heavy: set[str]) -> bool:
    return any(m in heavy for m in [*parents(target), target])


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(edges) | {t for ts in edges.values() for t in ts})

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def _check(rule: str, violations: list[str]) -> None:
    """Fail with one line per violation (module:line), without pytest's repr of the list."""
    if violations:
        pytest.fail(f"{rule}: {len(violations)} violation(s)\n  " + "\n  ".join(violations), pytrace=False)


def _all_imports() -> list[Import]:
    return [imp for found in package_imports().values() for imp in found]


# --- The scanner itself --------------------------------------------------------------------


def test_scanner_sees_top_level_function_level_and_relative_imports():
    source = """
import numpy as np
from pix2pix_sar import geo, errors
from . import sibling
from .. import config
from ..models.noise import seed_dropout
if True:
    import yaml

class Thing:
    import json

    def method(self):
        import keras

@decorator(lambda: __import__("x"))
def f(x=__import__("y")):
    from scipy import ndimage

    def inner():
        import tensorflow as tf
    g = lambda: None
"""
    known = {"pix2pix_sar.geo", "pix2pix_sar.errors", "pix2pix_sar.data.sibling", "pix2pix_sar.config"}
    found = scan_source(source, "pix2pix_sar.data.thing", known=known)
    seen = {(imp.target, imp.top_level) for imp in found}
    assert seen == {
        ("numpy", True),
        ("pix2pix_sar.geo", True),
        ("pix2pix_sar.errors", True),
        ("pix2pix_sar.data.sibling", True),
        ("pix2pix_sar.config", True),
        ("pix2pix_sar.models.noise", True),
        ("yaml", True),
        ("json", True),  # a class body runs at import
        ("keras", False),
        ("scipy", False),
        ("tensorflow", False),
    }
    assert [imp.line for imp in found if imp.target == "keras"] == [14]
    # One import per imported module, whatever the number of names.
    (imp,) = scan_source("from pix2pix_sar.models import build_generator, unet_depth", "m")
    assert imp.target == "pix2pix_sar.models"
    # In a package's __init__, "." is the package itself.
    (imp,) = scan_source("from .tiling import x", "pix2pix_sar.generation", is_package=True)
    assert imp.target == "pix2pix_sar.generation.tiling"


def test_scanner_reads_the_package():
    imports = package_imports()
    assert {"pix2pix_sar", "pix2pix_sar.geo", "pix2pix_sar.cli.main", "pix2pix_sar.training.loop"} <= set(imports)
    assert any(imp.target == "osgeo" and imp.top_level for imp in imports["pix2pix_sar.geo"])
    assert any(imp.target == "click" and imp.top_level for imp in imports["pix2pix_sar.cli.main"])


def test_heaviness_and_cycle_helpers():
    def imp(importer, target, top=True):
        return Import(importer, target, 1, top, importer)

    toy = {
        "pix2pix_sar.models": [imp("pix2pix_sar.models", "pix2pix_sar.models.blocks")],
        "pix2pix_sar.models.blocks": [imp("pix2pix_sar.models.blocks", "keras")],
        "pix2pix_sar.models.noise": [imp("pix2pix_sar.models.noise", "keras", top=False)],
        "pix2pix_sar.data.scaling": [imp("pix2pix_sar.data.scaling", "numpy")],
        "pix2pix_sar.evaluation.figures": [imp("pix2pix_sar.evaluation.figures", "matplotlib.pyplot")],
        "pix2pix_sar.evaluation.report": [imp("pix2pix_sar.evaluation.report", "pix2pix_sar.evaluation.figures")],
    }
    heavy = heavy_modules(toy)
    # noise imports keras lazily, but its package's __init__ imports blocks, which imports keras.
    assert heavy == {
        "pix2pix_sar.models",
        "pix2pix_sar.models.blocks",
        "pix2pix_sar.models.noise",
        "pix2pix_sar.evaluation.figures",
        "pix2pix_sar.evaluation.report",
    }
    assert is_heavy_import("pix2pix_sar.models.noise", heavy)
    assert not is_heavy_import("pix2pix_sar.data.scaling", heavy)

    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) == []


# --- The rules -----------------------------------------------------------------------------


def test_a_generation_does_not_import_training_or_evaluation():
    bad = [
        f"{imp.where} imports {imp.target}"
        for imp in _all_imports()
        if within(imp.importer, f"{PACKAGE}.generation")
        and (within(imp.target, f"{PACKAGE}.training") or within(imp.target, f"{PACKAGE}.evaluation"))
    ]
    _check("(a) generation/ must not import training/ or evaluation/", bad)


def test_b_training_does_not_import_geo():
    bad = [
        f"{imp.where} imports {imp.target}"
        for imp in _all_imports()
        if within(imp.importer, f"{PACKAGE}.training") and within(imp.target, f"{PACKAGE}.geo")
    ]
    _check("(b) training/ must not import pix2pix_sar.geo", bad)


def test_c_only_geo_imports_osgeo():
    bad = [
        f"{imp.where} imports {imp.target}"
        for imp in _all_imports()
        if imp.target.split(".")[0] in GDAL_MODULES and imp.importer != f"{PACKAGE}.geo"
    ]
    _check("(c) only pix2pix_sar/geo.py may import osgeo", bad)


def test_d_only_the_cli_imports_the_cli_or_click():
    bad = [
        f"{imp.where} imports {imp.target}"
        for imp in _all_imports()
        if not any(within(imp.importer, side) for side in CLI_SIDE)
        and (within(imp.target, CLI) or imp.target.split(".")[0] == "click")
    ]
    _check("(d) only pix2pix_sar/cli/ may import pix2pix_sar.cli or click", bad)


def test_e_no_library_module_reaches_the_cli_through_its_imports():
    imports = package_imports()

    def edges(name: str) -> list[tuple[str, Import | None]]:
        out: list[tuple[str, Import | None]] = [(p, None) for p in parents(name)]  # packages run first
        for imp in imports.get(name, ()):
            if within(imp.target, PACKAGE):
                out += [(m, imp) for m in [*parents(imp.target), imp.target] if m in imports]
        return out

    bad = []
    for start in sorted(imports):
        if any(within(start, side) for side in CLI_SIDE):
            continue
        came_from: dict[str, tuple[str, Import | None]] = {}
        queue, seen = [start], {start}
        while queue:
            name = queue.pop(0)
            if within(name, CLI):
                chain, node = [], name
                while node != start:
                    node, imp = came_from[node][0], came_from[node][1]
                    chain.append(imp.where if imp else f"{node} (package)")
                bad.append(f"{start} -> {name} via " + " -> ".join(reversed(chain)))
                break
            for target, imp in edges(name):
                if target not in seen:
                    seen.add(target)
                    came_from[target] = (name, imp)
                    queue.append(target)
    _check("(e) the library must never import the CLI, directly or not", bad)


def test_f_no_module_level_import_cycles_between_modules():
    imports = package_imports()
    edges: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], str] = {}
    for imp in _all_imports():
        if imp.top_level and imp.target in imports and imp.target != imp.importer:
            edges.setdefault(imp.importer, set()).add(imp.target)
            lines.setdefault((imp.importer, imp.target), imp.where)
    bad = [
        " <-> ".join(component)
        + ": "
        + ", ".join(f"{lines[a, b]} imports {b}" for a in component for b in sorted(edges.get(a, ())) if b in component)
        for component in cycles(edges)
    ]
    _check("(f) module-level import cycles between modules", bad)


def test_f_no_module_level_import_cycles_between_subpackages():
    def unit(name: str) -> str:
        parts = name.split(".")
        return ".".join(parts[:2])  # pix2pix_sar.data.prepare -> pix2pix_sar.data

    imports = package_imports()
    edges: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], list[str]] = {}
    for imp in _all_imports():
        if not (imp.top_level and within(imp.target, PACKAGE)):
            continue
        a, b = unit(imp.importer), unit(imp.target)
        if a != b and b in imports:
            edges.setdefault(a, set()).add(b)
            lines.setdefault((a, b), []).append(f"{imp.where} imports {imp.target}")
    bad = [
        " <-> ".join(component)
        + ": "
        + "; ".join(", ".join(lines[a, b]) for a in component for b in sorted(edges.get(a, ())) if b in component)
        for component in cycles(edges)
    ]
    _check("(f) module-level import cycles between top-level subpackages/modules", bad)


def test_g_function_level_imports_are_for_heavy_modules_only():
    imports = package_imports()
    heavy = heavy_modules(imports)
    allowed = ", ".join(sorted(HEAVY_THIRD_PARTY))
    bad = []
    for imp in _all_imports():
        if imp.top_level or imp.target.split(".")[0] in HEAVY_THIRD_PARTY:
            continue
        if within(imp.target, PACKAGE):
            if within(imp.importer, CLI) or is_heavy_import(imp.target, heavy):
                continue
            why = "a light pix2pix_sar module (it imports none of " + allowed + " at its top)"
        else:
            why = "not one of " + allowed
        bad.append(f"{imp.where} imports {imp.target} inside a function: {why}; import it at the top")
    _check("(g) function-level imports are for heavy modules only", bad)


def test_h_segmentation_does_not_import_evaluation():
    bad = [
        f"{imp.where} imports {imp.target}"
        for imp in _all_imports()
        if within(imp.importer, f"{PACKAGE}.segmentation") and within(imp.target, f"{PACKAGE}.evaluation")
    ]
    _check("(h) segmentation/ must not import evaluation/", bad)


def run_json_uses(source: str, path: str) -> list[str]:
    """Where `source` names "run.json" in a string that is not a docstring, or reads an attribute `run_json`."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if "run.json" in node.value:
                found.append(f"{path}:{node.lineno} names run.json")
        elif isinstance(node, ast.Attribute) and node.attr == "run_json":
            found.append(f"{path}:{node.lineno} uses .run_json")
    return found


def test_i_only_run_folder_reads_or_writes_run_json():
    assert run_json_uses('"""run.json"""\nx = 1  # run.json\n', "m") == []
    assert len(run_json_uses('p = d / "run.json"\nq = f"{d}/run.json"\nr = run.run_json.read_text()\n', "m")) == 3
    bad = []
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        if path != ROOT / PACKAGE / "run_folder.py":
            bad += run_json_uses(path.read_text(), str(path.relative_to(ROOT)))
    _check("(i) only pix2pix_sar/run_folder.py may read or write run.json (ask the RunFolder)", bad)


#: A module longer than this holds more than one concern, as a rule (issue 21).
MAX_LINES = 450
#: Modules allowed to be longer, and why each is one concern.
LONG_MODULES = {
    "pix2pix_sar/geo.py": "the one module that talks to GDAL (rule c): a thin wrapper per GDAL call",
    "pix2pix_sar/config.py": "every typed config dataclass (house rule): one per section, each field with its check",
}


def test_j_modules_stay_under_max_lines():
    lengths = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in (ROOT / PACKAGE).rglob("*.py")
    }
    assert set(LONG_MODULES) <= set(lengths), "LONG_MODULES names a module that is gone"
    bad = [
        f"{rel}: {n} lines; split it along a seam, or add it to LONG_MODULES with the reason it is one concern"
        for rel, n in sorted(lengths.items())
        if n > MAX_LINES and rel not in LONG_MODULES
    ]
    _check(f"(j) modules of at most {MAX_LINES} lines", bad)


# --- Messages ------------------------------------------------------------------------------

#: A command-line flag written out (``--max-nodata``), not a range (``1--2``) or a rule line.
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
#: Calls whose string arguments are messages: errors made (raised or returned) and log lines.
MESSAGE_CALLS = re.compile(r"(Error|Exception|Interrupted|InvalidValue|already_exists|warn|warning|info|debug)$")


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def message_flags(source: str) -> list[tuple[int, str]]:
    """(line, flag) for every CLI flag in a message of `source`: the strings of a raise,
    of an error's or a log line's arguments, and of parameter defaults (an option name
    handed down to a message)."""
    tree = ast.parse(source)
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            roots.append(node)
        elif isinstance(node, ast.Call) and MESSAGE_CALLS.search(_callee(node)):
            roots += [*node.args, *(k.value for k in node.keywords)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            roots += [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
    found = set()
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= {(node.lineno, flag) for flag in FLAG.findall(node.value)}
    return sorted(found)


def test_message_flags_scanner():
    source = '''
def f(x, option="--out"):
    """Docstrings may name --flags."""
    log.info("use --tile %s", x)
    README = "made with 'generate --as-dataset'"
    if x:
        raise InputError(f"{x}: pass {option('overwrite')} or -1--2")
    return InvalidValue("tile", "tile: use --split-by scene")
'''
    assert message_flags(source) == [(2, "--out"), (4, "--tile"), (8, "--split-by")]


def test_h_no_library_message_names_a_cli_flag():
    """Library messages name settings through errors.option(field); the CLI shows the option."""
    bad = []
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if within(rel.removesuffix(".py").replace("/", "."), CLI) or rel == f"{PACKAGE}/__main__.py":
            continue
        bad += [f"{rel}:{line} names {flag}" for line, flag in message_flags(path.read_text())]
    _check("(h) library messages name settings with errors.option(field), not CLI flags", bad)
