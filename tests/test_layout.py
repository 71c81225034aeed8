"""The package's shape: which part may import which (every import, also those inside functions), no import cycles
between modules, and the size rule. The README's Layout section states the same rules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "viva_robot"

# part -> the parts it may import. Read bottom-up: data <- sim <- envs (both backends, make_env) <- value <- rl <- cli;
# ROS nodes use envs/ and value/, never rl/; the ROS transport helpers (messages, node) sit under envs' ROS backend.
ALLOWED = {
    "topics": set(),
    "config": {"topics"},
    "robot": {"config", "topics", "data"},  # data: the RealSense driver replays a viva dataset
    "data": {"config"},
    "sim": {"config", "data"},
    "ros-transport": {"config", "topics", "robot"},
    "envs": {"config", "topics", "robot", "data", "sim", "ros-transport"},
    "value": {"config", "data"},
    "rl": {"config", "topics", "robot", "data", "sim", "envs", "value"},
    "ros-nodes": {"config", "topics", "robot", "data", "sim", "ros-transport", "envs", "value"},
    "cli": {"config", "topics", "robot", "data", "sim", "ros-transport", "envs", "value", "rl", "ros-nodes"},
}


def part(module: str) -> str:
    names = module.split(".")[1:]
    match names:
        case [] | ["config"] | ["rundir"] | ["__init__"]:
            return "config"  # the mechanism every command uses
        case ["robot", "topics"]:
            return "topics"
        case ["ros", "messages" | "node" | "__init__"]:
            return "ros-transport"
        case ["ros", *_]:
            return "ros-nodes"
        case [top, *_]:
            return top
    raise AssertionError(module)


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = path
    return out


def imports(path: Path, known: set[str]) -> set[str]:
    """viva_robot modules imported anywhere in the file (`from viva_robot.x import y` counts y if it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("viva_robot")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("viva_robot"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
    return found & known


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) - {name} for name, path in mods.items()}


def test_parts_import_only_what_lies_below_them():
    g = graph()
    assert {part(m) for m in g} <= set(ALLOWED), {part(m) for m in g} - set(ALLOWED)
    wrong = sorted(f"{m} ({part(m)}) imports {d} ({part(d)})" for m, deps in g.items() for d in deps
                   if part(d) != part(m) and part(d) not in ALLOWED[part(m)])
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    g, state, cycles = graph(), {}, []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = "open"
        for d in sorted(g[m]):
            if state.get(d) == "open":
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[m] = "done"

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    # a package's __init__ is imported with any of its modules; an __init__ importing nothing of its own is fine
    assert not cycles, "\n".join(cycles)


def test_the_rules_catch_a_violation():
    assert part("viva_robot.ros.monitor") == "ros-nodes" and "rl" not in ALLOWED["ros-nodes"]
    assert part("viva_robot.ros.messages") == "ros-transport" and part("viva_robot.envs.ros") == "envs"
    assert "viva_robot.value.guide" in graph()["viva_robot.rl.train"]  # imports are seen, lazy ones too
    assert "viva_robot.envs.ros" in graph()["viva_robot.envs"]  # make_env's ros branch


def test_a_long_module_says_why():
    """~300 lines: past that a module's docstring has a "Size:" paragraph giving the reason (or what is pending)."""
    long = []
    for name, path in modules().items():
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        if text.count("\n") > 300 and "\nSize: " not in "\n" + doc:
            long.append(f"{name}: {text.count(chr(10))} lines")
    assert not long, "\n".join(long)
