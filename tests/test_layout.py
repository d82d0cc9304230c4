"""The house's one rule, read from the code: imports run one way.

detectors <- pipeline (config, options) <- analysis <- ranking <- output <- promotion <- executors
<- workers <- the package's face (peakclip.api, python -m peakclip). A module may import its own
floor and the floors below it, never one above: so ranking never imports output, the pipeline
never imports workers, and nothing imports the old top-level names (``pipeline``, ``workers``).
Imports inside functions count too.
"""
import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = {"peakclip": "peakclip", "detectors": "peakclip.detectors", "pipeline": "peakclip.pipeline",
           "workers": "peakclip.workers", "samples": "peakclip.samples"}
# Lowest first. A module's floor is the longest prefix of its name listed here.
FLOORS = [
    ["peakclip.detectors"],
    ["peakclip.samples"],
    ["peakclip.pipeline.config", "peakclip.pipeline.options", "peakclip.pipeline"],
    ["peakclip.pipeline.analysis"],
    ["peakclip.pipeline.ranking"],
    ["peakclip.pipeline.output"],
    ["peakclip.pipeline.promotion"],
    ["peakclip.pipeline.executors"],
    ["peakclip.workers"],
    ["peakclip"],
]
OLD_NAMES = ("detectors", "pipeline", "workers", "samples")


def floor_of(module: str) -> int:
    best, level = "", None
    for n, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, level = prefix, n
    assert level is not None, f"{module} is on no floor"
    return level


def modules():
    """(module name, path) of every module of the package, by the folders setup.py maps."""
    for folder, package in FOLDERS.items():
        for root, _, files in os.walk(os.path.join(REPO, folder)):
            for name in files:
                if name.endswith(".py"):
                    relative = os.path.relpath(os.path.join(root, name), os.path.join(REPO, folder))
                    parts = relative[:-3].split(os.sep)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    yield ".".join([package, *parts]), os.path.join(root, name)


def imported(path: str) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_every_module_is_found_and_on_a_floor():
    names = dict(modules())
    assert "peakclip.pipeline.ranking.rank" in names and "peakclip.workers.cli" in names
    for name in names:
        floor_of(name)


@pytest.mark.parametrize("module,path", sorted(modules()))
def test_imports_run_one_way(module, path):
    mine = floor_of(module)
    wrong = []
    for line, target in imported(path):
        if target.split(".")[0] in OLD_NAMES:
            wrong.append(f"line {line}: {target} (the old top-level name; it is peakclip.{target} now)")
        elif target.startswith("peakclip.") and floor_of(target) > mine:
            wrong.append(f"line {line}: {target} is above {module}")
    assert not wrong, f"{os.path.relpath(path, REPO)}: " + "; ".join(wrong)


def test_the_rule_catches_an_import_against_the_flow(tmp_path):
    """The check itself: a ranking module importing an output module is refused."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from peakclip.pipeline.output.render import render_clips\n")
    targets = [t for _, t in imported(str(bad))]
    assert targets == ["peakclip.pipeline.output.render"]
    assert floor_of(targets[0]) > floor_of("peakclip.pipeline.ranking.rank")
