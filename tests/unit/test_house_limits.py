"""The house's limits (issue 31, item 6), held by reading the source: no function in ``plugins/`` over 50 lines, and
the role and the playbooks at most 250 lines and 6 logic filters, so that decisions stay in tested Python. And the
import layers of the download rooms: ``scratch.py`` imports only the ground floor, ``verify.py`` only that and
``scratch.py``, ``downloads.py`` and ``part_download.py`` at most 4 sibling modules each.

How they are counted:

- A function's length is ``end_lineno - lineno + 1`` of its ``def`` (decorators excluded), for every function and
  method, nested ones included, in ``plugins/**/*.py``. DOCUMENTATION, EXAMPLES and RETURN are module constants,
  not functions, and are not counted.
- The role and the playbooks: the non-blank, non-comment lines (``---`` included) of ``playbooks/*.yml`` and
  ``roles/*/{tasks,defaults,handlers,vars}/*.yml``. ``roles/*/meta/argument_specs.yml`` is not counted: it is the
  role's typed interface (what each variable is and means), not logic; ``meta/main.yml`` is Galaxy metadata.
- A logic filter is each use of a Jinja filter in those lines (``{{ x | bool }}``, ``when: x | length``) other
  than ``default`` and ``mandatory``, which only say what an unset variable means. The count reads every ``|``
  followed by a name outside comments, so it may count a literal pipe too (never fewer filters than there are).
- A room's siblings are the ``module_utils`` and ``plugin_utils`` modules it imports anywhere in the file (a lazy
  import in a function too): ``from ...module_utils.X import y`` and ``import ...module_utils.X`` count X, ``from
  ...module_utils import X, Y`` counts X and Y, and so do the relative forms (``from .X import y``, ``from . import
  X``, ``from ..plugin_utils.X import y``). The ground floor is the one CONTRIBUTING.md's table lists.
- The floors: each row of CONTRIBUTING.md's house table is a floor, the ground floor first; a room is on the floor
  whose row names it in backticks (``files.py``, ``module_utils/module.py``). Every module of ``module_utils`` and
  ``plugin_utils`` is named on exactly one row, and no room imports a room on a higher floor.
"""

import ast
import itertools
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 50
MAX_YAML_LINES = 250
MAX_LOGIC_FILTERS = 6
NOT_LOGIC = ("default", "mandatory")
ROLE_LOGIC_FOLDERS = ("tasks", "defaults", "handlers", "vars")
# a single | (not ||) and the filter name after it
FILTER = re.compile(r"(?<!\|)\|(?!\|)\s*([A-Za-z_][\w.]*)")
MODULE_UTILS = REPO / "plugins" / "module_utils"
PLUGINS = "ansible_collections.divio.cloud.plugins"
PACKAGE = PLUGINS + ".module_utils"
# The folders whose modules are rooms, and their packages.
ROOM_PACKAGES = {MODULE_UTILS: PACKAGE, REPO / "plugins" / "plugin_utils": PLUGINS + ".plugin_utils"}
# A room as the house table names it: its file name, maybe under module_utils/ or plugin_utils/.
TABLE_ROOM = re.compile(r"`(?:(?:module|plugin)_utils/)?(\w+)\.py`")
CONTRIBUTING = REPO / "CONTRIBUTING.md"
GROUND_FLOOR = {"errors", "values", "deadline", "processes", "files", "leftovers", "space", "scratch"}
MAX_SIBLINGS = {"downloads": 4, "part_download": 4}


def long_functions(root, limit=MAX_FUNCTION_LINES):
    """``["path:line name (n lines)"]`` for each function under ``root`` longer than ``limit``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append("%s:%d %s (%d lines)" % (path.relative_to(root.parent), node.lineno, node.name,
                                                          length))
    return found


def logic_files(repo=REPO):
    """The playbooks and the role files that hold logic (not meta/: the argument specs are the interface)."""
    files = sorted((repo / "playbooks").glob("*.yml"))
    for folder in ROLE_LOGIC_FOLDERS:
        files += sorted((repo / "roles").glob("*/%s/*.yml" % folder))
    return files


def counted_lines(text):
    """The lines that count: not blank, not a comment."""
    return [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def logic_filters(text):
    """The names of the Jinja filters used in ``text``'s counted lines, once per use, other than default/mandatory."""
    return [name for line in counted_lines(text) for name in FILTER.findall(line) if name not in NOT_LOGIC]


def siblings(source, package=PACKAGE):
    """The ``module_utils`` and ``plugin_utils`` modules that ``source`` (the text of a module of ``package``)
    imports, by name."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if module in ROOM_PACKAGES.values():
                found.update(alias.name for alias in node.names)
            else:
                found.update(_room(module))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found.update(_room(alias.name))
    return found


def _absolute(node, package):
    """The module a ``from`` import names, a relative one (``from ..x import``) read from ``package``."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    return ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))


def _room(module):
    """``{X}`` when ``module`` is room X of a room package (or lies inside it), else nothing."""
    return set(module[len(package) + 1:].split(".")[0] for package in ROOM_PACKAGES.values()
               if module.startswith(package + "."))


def siblings_of(room):
    return siblings((MODULE_UTILS / ("%s.py" % room)).read_text())


def rooms():
    """``{name: (path, package)}`` of every module of ``module_utils`` and ``plugin_utils``."""
    return dict((path.stem, (path, package)) for folder, package in ROOM_PACKAGES.items()
                for path in sorted(folder.glob("*.py")) if path.stem != "__init__")


def house_table(text):
    """``[(floor, [room, ...])]``: the rows of CONTRIBUTING.md's house table, the ground floor first."""
    lines = text.splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith("| floor |")) + 2  # past |---|
    rows = itertools.takewhile(lambda line: line.startswith("|"), lines[start:])
    return [(cells[1].strip(), TABLE_ROOM.findall(cells[2])) for cells in (line.split("|") for line in rows)]


def floors(text):
    """``({room: (floor number, floor name)}, [room named on two floors, ...])`` from the house table (0: ground)."""
    found, twice = {}, []
    for number, (name, names) in enumerate(house_table(text)):
        for room in names:
            if found.setdefault(room, (number, name))[0] != number:
                twice.append(room)
    return found, twice


def upward_imports(floor_of, sources):
    """``["room (floor) -> room (floor)"]`` for each import of a room on a higher floor; ``floor_of``: what
    ``floors`` found, ``sources``: ``{room: (text, package)}``."""
    return ["%s (%s) -> %s (%s)" % (room, floor_of[room][1], other, floor_of[other][1])
            for room, (text, package) in sorted(sources.items()) if room in floor_of
            for other in sorted(siblings(text, package)) if floor_of.get(other, (-1,))[0] > floor_of[room][0]]


def test_the_counters_count():
    """The counters see what they are meant to (so the limits below can fail)."""
    sample = "---\n# a comment | bool\n\n- name: x\n  when: a | bool and b || c\n  msg: \"{{ l | map(attribute='s') " \
             "| join(', ') }} {{ v | default(omit) }}\"\n  text: |\n    plain\n"
    assert len(counted_lines(sample)) == 6
    assert logic_filters(sample) == ["bool", "map", "join"]
    assert {path.name for path in logic_files()} >= {"main.yml", "gate_deployment.yml", "refresh_environment.yml"}
    assert not any("meta" in path.parts for path in logic_files())
    assert long_functions(REPO / "plugins", limit=1), "every plugin has functions longer than one line"
    imports = ("import os\nfrom %s import files, space\nfrom %s.errors import InputError\nimport %s.deadline\n"
               "def f():\n    from %s.values import LEVELS\n" % ((PACKAGE,) * 4))
    assert siblings(imports) == {"files", "space", "errors", "deadline", "values"}
    relative = "from .errors import E\nfrom . import space\ndef f():\n    from ..plugin_utils.base import B\n"
    assert siblings(relative) == {"errors", "space", "base"}
    assert siblings("from .backup_reports import r\n", PLUGINS + ".plugin_utils") == {"backup_reports"}
    table = ("| floor | rooms |\n|---|---|\n| low | `a.py` a, `tests/x.py` · `module_utils/b.py` |\n"
             "| high | `c.py` · `plugin_utils/` · `a.py` again |\n\nafter: `d.py`\n")
    assert house_table(table) == [("low", ["a", "b"]), ("high", ["c", "a"])]
    floor_of, twice = floors(table)
    assert floor_of == {"a": (0, "low"), "b": (0, "low"), "c": (1, "high")} and twice == ["a"]
    sources = {"b": ("from .c import x\nfrom .a import y\n", PACKAGE), "c": ("from . import b\n", PACKAGE)}
    assert upward_imports(floor_of, sources) == ["b (low) -> c (high)"]


def test_the_ground_floor_is_the_one_contributing_lists():
    assert {room for room, (floor, _name) in floors(CONTRIBUTING.read_text())[0].items() if floor == 0} == GROUND_FLOOR


def test_every_room_is_on_one_floor_of_the_house_table():
    """A new room of module_utils or plugin_utils is placed on its floor in CONTRIBUTING.md's table, once."""
    floor_of, twice = floors(CONTRIBUTING.read_text())
    unplaced = sorted(set(rooms()) - set(floor_of))
    assert not unplaced, "rooms missing from CONTRIBUTING.md's house table (place each on its floor): %s" % unplaced
    assert not twice, "rooms the house table names on two floors: %s" % sorted(twice)
    gone = sorted(set(floor_of) - set(rooms()))
    assert not gone, "the house table names rooms that do not exist: %s" % gone


def test_no_room_imports_a_room_on_a_higher_floor():
    """Each room imports only rooms on its own floor or below (CONTRIBUTING.md, "The house: floors and rooms")."""
    sources = dict((room, (path.read_text(), package)) for room, (path, package) in rooms().items())
    upward = upward_imports(floors(CONTRIBUTING.read_text())[0], sources)
    assert not upward, "rooms importing a room on a higher floor (move the code, or pass it in):\n%s" % "\n".join(upward)


def test_scratch_imports_only_the_ground_floor():
    above = siblings_of("scratch") - GROUND_FLOOR
    assert not above, "scratch.py imports rooms above the ground floor: %s" % sorted(above)


def test_verify_imports_only_the_ground_floor_and_scratch():
    above = siblings_of("verify") - GROUND_FLOOR
    assert not above, "verify.py imports rooms above the ground floor (scratch.py included): %s" % sorted(above)


def test_the_download_rooms_import_at_most_4_siblings():
    counts = {room: sorted(siblings_of(room)) for room in MAX_SIBLINGS}
    over = {room: names for room, names in counts.items() if len(names) > MAX_SIBLINGS[room]}
    assert not over, "rooms importing more siblings than their limit %s: %s" % (MAX_SIBLINGS, over)


def test_no_function_in_plugins_is_over_50_lines():
    found = long_functions(REPO / "plugins")
    assert not found, "functions over %d lines (split them where they change subject):\n%s" % (
        MAX_FUNCTION_LINES, "\n".join(found))


def test_the_role_and_playbooks_are_at_most_250_lines():
    sizes = {str(path.relative_to(REPO)): len(counted_lines(path.read_text())) for path in logic_files()}
    assert sum(sizes.values()) <= MAX_YAML_LINES, "role and playbooks hold %d lines (limit %d): %s" % (
        sum(sizes.values()), MAX_YAML_LINES, sizes)


def test_the_role_and_playbooks_use_at_most_6_logic_filters():
    """Decisions belong to the Python action plugins (backup_gate_variables, gate_outcome, refresh_outcome,
    backup_report), where they are unit-tested; the YAML passes values on."""
    used = {str(path.relative_to(REPO)): logic_filters(path.read_text()) for path in logic_files()}
    total = sum(len(names) for names in used.values())
    assert total <= MAX_LOGIC_FILTERS, "role and playbooks use %d logic filters (limit %d): %s" % (
        total, MAX_LOGIC_FILTERS, {name: names for name, names in used.items() if names})
