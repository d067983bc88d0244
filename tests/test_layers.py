"""The layers drawn from the imports: messages < neon_cm < gateways < actors < entry points < sim, no arrow back
up, and neon_cm/ (and messages/) pure: no client library, no thread, socket, signal or subprocess."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service import ROOT

#: Each layer by rank; a module may import its own layer and those below it, never one above.
LAYERS = {
    "messages": 0,
    "neon_cm": 1,
    "gateways": 2,
    "actors": 3,
    "cli": 4,
    "neon_cm_main": 4,
    "neon_cm_stopping": 4,
    "sim": 5,  # the simulator runs the service's parts: nothing of the service imports it
}
#: What only a gateway (or an actor) may import: the servers' client libraries, the actor library, the metrics.
CLIENT_LIBRARIES = {"requests", "urllib3", "consul", "docker", "hvac", "pykka", "prometheus_client"}
#: The standard library's I/O, threads, signals and processes: none of it in pure logic.
IMPURE_STDLIB = {
    "threading",
    "signal",
    "socket",
    "select",
    "subprocess",
    "tempfile",
    "http",
    "shutil",
    "asyncio",
}
#: Calls that read a clock, the file system or the process environment: pure logic is given these, never reads them.
IMPURE_CALLS = (
    "time.time",
    "time.monotonic",
    "time.sleep",
    "time.perf_counter",
    "datetime.now",
    "datetime.utcnow",
    "datetime.datetime.now",
    "os.environ",
    "os.getenv",
    "os.path.",
    "os.stat",
    "os.open",
    "os.read",
    "os.listdir",
    "open",
)
#: Modules of neon_cm/ allowed to do I/O: none.
NOT_YET_PURE: set[str] = set()


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the service, by dotted name."""
    yield "neon_cm_main", ROOT / "neon_cm_main.py"
    yield "neon_cm_stopping", ROOT / "neon_cm_stopping.py"
    for package in ("messages", "neon_cm", "gateways", "actors", "cli", "sim"):
        for path in sorted((ROOT / package).glob("*.py")):
            yield (package if path.stem == "__init__" else f"{package}.{path.stem}"), path


def imports(path: Path) -> set[str]:
    """The modules `path` imports anywhere in it (a lazy import inside a function too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a name or an attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def impure_uses(path: Path) -> set[str]:
    """The clock, file system and environment reads in `path` (calls and attribute uses of IMPURE_CALLS)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        name = dotted(node.func) if isinstance(node, ast.Call) else dotted(node)
        if name and any(name == call or (call.endswith(".") and name.startswith(call)) for call in IMPURE_CALLS):
            found.add(name)
    return found


def layer(module: str) -> str | None:
    """The layer a module of ours belongs to (None: not ours)."""
    top = module.split(".")[0]
    return top if top in LAYERS else None


def upward_imports() -> list[str]:
    """Every import that climbs a layer, as `importer -> imported`."""
    climbing = []
    for name, path in modules():
        own = layer(name)
        assert own is not None
        for imported in sorted(imports(path)):
            theirs = layer(imported)
            if theirs is not None and LAYERS[theirs] > LAYERS[own]:
                climbing.append(f"{name} -> {imported}")
    return climbing


def test_no_import_climbs_a_layer() -> None:
    """messages < neon_cm < gateways < actors < entry points (cli, neon_cm_main): no arrow back up."""

    climbing = [arrow for arrow in upward_imports() if arrow.split(" -> ")[0] not in NOT_YET_PURE]

    assert [] == climbing


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("neon_cm", CLIENT_LIBRARIES | IMPURE_STDLIB),
        # A message may carry a threading.Event (a Tick's `handled`): a value handed over, not I/O.
        ("messages", CLIENT_LIBRARIES),
    ],
)
def test_pure_logic_imports_no_client_library_nor_io(package: str, forbidden: set[str]) -> None:
    """neon_cm/ imports no client library, and nothing of the standard library's I/O and threads; messages/ no
    client library."""

    impure = {
        f"{name} imports {imported}"
        for name, path in modules()
        if layer(name) == package and name not in NOT_YET_PURE
        for imported in imports(path)
        if imported.split(".")[0] in forbidden
    }

    assert set() == impure


def test_the_entry_points_are_imported_by_nothing_below_them() -> None:
    """Nothing in neon_cm/, gateways/ or actors/ imports the CLI or neon_cm_main."""

    below = {
        f"{name} -> {imported}"
        for name, path in modules()
        if layer(name) in ("messages", "neon_cm", "gateways", "actors")
        for imported in imports(path)
        if layer(imported) in ("cli", "neon_cm_main")
    }

    assert set() == below


def test_pure_logic_reads_no_clock_file_or_environment() -> None:
    """neon_cm/ is given the time, the environment and its files (read_text, path_kind): it reads none of them."""

    reads = {f"{name} uses {use}" for name, path in modules() if layer(name) == "neon_cm" for use in impure_uses(path)}

    assert set() == reads


def test_the_service_entry_point_imports_nothing_from_the_command_line() -> None:
    """neon_cm_main (the service) and cli (the command line) are two entry points side by side: the service imports
    nothing of the CLI (the stop request both install first of all is neon_cm_stopping, below neither)."""

    assert set() == {imported for imported in imports(ROOT / "neon_cm_main.py") if layer(imported) == "cli"}


def runtime_imports(path: Path) -> set[str]:
    """The modules `path` imports when it runs: every import but those under `if TYPE_CHECKING:` (annotations only),
    `from sim import x` counted as sim.x."""
    tree = ast.parse(path.read_text(), str(path))
    checking_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and dotted(node.test) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in checking_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_import_circle_inside_sim() -> None:
    """sim/'s modules import one another without a circle (at run time: a circle of annotations only, under
    TYPE_CHECKING, is not one Python has to resolve)."""
    sim = {name: path for name, path in modules() if layer(name) == "sim" and name != "sim"}
    edges = {name: {imported for imported in runtime_imports(path) if imported in sim} for name, path in sim.items()}
    circles: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        for imported in sorted(edges[name]):
            if imported in trail:
                circles.append(" -> ".join((*trail[trail.index(imported) :], imported)))
            else:
                visit(imported, (*trail, imported))

    for name in sorted(sim):
        visit(name, (name,))

    assert [] == circles
