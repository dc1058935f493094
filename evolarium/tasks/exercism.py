"""Convert a directory of Exercism-style Python exercises into tasks.

An exercise directory, as in the Exercism Python track and the Aider polyglot
benchmark, contains ``.docs/instructions.md`` (with optional
``introduction.md`` and ``instructions.append.md``), ``.meta/config.json``
whose ``files`` object lists the ``solution``, ``test`` and ``example`` files,
a stub solution and a test file.

Each exercise becomes a task directory in the cache. The workspace contains
every file of the exercise except the tests, the example solution and hidden
entries such as ``.docs`` and ``.meta``. The hidden tests are the test files,
renamed to ``test_*.py`` where needed so that the task loader and pytest find
them. The tests directory also gets a copy of the ``editor`` files (read-only
support files), so an agent's edits to those do not reach the tests. The
reference is the example solution saved under the solution file's name.
"""

import ast
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from evolarium.archive.snapshot import hash_dir
from evolarium.errors import TaskError
from evolarium.tasks.task import ID_PATTERN

log = logging.getLogger(__name__)

# Bump when the generated files change, so cached tasks are regenerated.
CONVERTER_VERSION = 1
CONFIG_FILE = PurePosixPath(".meta/config.json")
INSTRUCTIONS_FILE = PurePosixPath(".docs/instructions.md")
# The prompt joins the documents in this order: the background, the task, then the track's notes.
DOC_FILES = (
    PurePosixPath(".docs/introduction.md"),
    INSTRUCTIONS_FILE,
    PurePosixPath(".docs/instructions.append.md"),
)
FILE_KINDS = ("solution", "test", "example")
SKIPPED_NAMES = {"__pycache__", ".pytest_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
ID_PREFIX = "exercism-"
CONFIG_EXAMPLE = (
    '"files": {"solution": ["two_fer.py"], "test": ["two_fer_test.py"], '
    '"example": [".meta/example.py"]}'
)

PROMPT_TEMPLATE = """\
# {title}

{docs}

## Files

{files}
"""
TESTS_SENTENCE = (
    "The tests are hidden. They import the solution by its module name and run with pytest. "
    "Use only the Python standard library."
)

TASK_TOML = """\
id = {task_id}
title = {title}
language = "python"
tags = ["exercism"]

[test]
command = "pytest"
{expected_line}
[timeouts]
agent_seconds = 300
test_seconds = 60
"""


@dataclass(frozen=True)
class Exercise:
    """An exercise directory with the file lists of its ``.meta/config.json``."""

    root: Path
    solution: tuple[PurePosixPath, ...]
    test: tuple[PurePosixPath, ...]
    example: tuple[PurePosixPath, ...]
    editor: tuple[PurePosixPath, ...]

    @property
    def slug(self) -> str:
        return self.root.name

    @property
    def task_id(self) -> str:
        return ID_PREFIX + self.slug

    @property
    def title(self) -> str:
        return self.slug.replace("-", " ").replace("_", " ").title()


def is_exercise(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file()


def exercise_dirs(root: Path) -> list[Path]:
    """Return ``root`` when it is an exercise, or the exercise directories directly under it."""
    if not root.is_dir():
        raise TaskError(f"exercism suite {root}: not a directory; pass a directory of exercises")
    if is_exercise(root):
        return [root]
    found = sorted(path for path in root.iterdir() if path.is_dir() and is_exercise(path))
    if not found:
        raise TaskError(
            f"no exercises in {root}: each exercise directory needs a {CONFIG_FILE}; pass the "
            f"directory that contains the exercises, such as python/exercises/practice"
        )
    return found


def materialize(exercise_dir: Path, dest: Path) -> Path:
    """Convert one exercise into a task directory under ``dest`` and return its path.

    The directory name contains a hash of the exercise's files, so an edited
    exercise is converted again. The task is written to a temporary directory
    and renamed into place, so a reader never sees a half-written task.
    """
    exercise = read_exercise(exercise_dir)
    suite_dir = dest / f"exercism-v{CONVERTER_VERSION}"
    task_dir = suite_dir / f"{exercise.slug}-{hash_dir(exercise_dir)[:16]}"
    if task_dir.is_dir():
        return task_dir

    suite_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{exercise.slug}-", dir=suite_dir))
    try:
        _write_task(staging, exercise)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        os.rename(staging, task_dir)
    except OSError:
        # Another process finished first; its copy is identical.
        shutil.rmtree(staging, ignore_errors=True)
    return task_dir


def read_exercise(root: Path) -> Exercise:
    """Read and validate an exercise directory. A TaskError names the file and the field."""
    config_path = root / CONFIG_FILE
    files = _read_files_object(config_path)
    lists = {kind: _read_file_list(files, kind, root, config_path) for kind in FILE_KINDS}
    editor = _read_optional_list(files, "editor", root, config_path)
    exercise = Exercise(root, lists["solution"], lists["test"], lists["example"], editor)

    if not ID_PATTERN.match(exercise.task_id):
        raise TaskError(
            f"{root}: the directory name {root.name!r} does not make a valid task id; rename it "
            f"with lowercase letters, digits, '-', '_' and '.'"
        )
    _check_python_files(exercise, config_path)
    _check_solution_visible(exercise, config_path)
    _check_docs(root)
    _reference_names(exercise, config_path)
    _test_names(exercise, config_path)
    return exercise


def _read_files_object(config_path: Path) -> dict:
    if not config_path.is_file():
        raise TaskError(f"{config_path}: missing; every exercise needs a {CONFIG_FILE}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TaskError(f"{config_path}: invalid JSON: {error}") from error
    if not isinstance(config, dict):
        raise TaskError(f"{config_path}: must contain a JSON object with a 'files' field")
    files = config.get("files")
    if not isinstance(files, dict):
        raise TaskError(
            f"{config_path}: field 'files' is missing or not an object; add {CONFIG_EXAMPLE}"
        )
    return files


def _read_file_list(
    files: dict, kind: str, root: Path, config_path: Path
) -> tuple[PurePosixPath, ...]:
    if kind not in files:
        raise TaskError(
            f"{config_path}: field 'files.{kind}' is missing; list the {kind} files there, "
            f"as in {CONFIG_EXAMPLE}"
        )
    paths = _read_optional_list(files, kind, root, config_path)
    if not paths:
        raise TaskError(f"{config_path}: field 'files.{kind}' is empty; list at least one file")
    return paths


def _read_optional_list(
    files: dict, kind: str, root: Path, config_path: Path
) -> tuple[PurePosixPath, ...]:
    values = files.get(kind, [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise TaskError(
            f"{config_path}: field 'files.{kind}' must be a list of paths relative to the "
            f"exercise directory, got {values!r}"
        )
    return tuple(_check_path(value, kind, root, config_path) for value in values)


def _check_path(value: str, kind: str, root: Path, config_path: Path) -> PurePosixPath:
    relative = PurePosixPath(value)
    if not value or relative.is_absolute() or ".." in relative.parts:
        raise TaskError(
            f"{config_path}: field 'files.{kind}' contains {value!r}; use a path relative to "
            f"the exercise directory, without '..'"
        )
    path = root / relative
    if path.is_symlink():
        raise TaskError(f"{path}: symlinks are not allowed in an exercise; copy the file")
    if not path.is_file():
        raise TaskError(
            f"{config_path}: field 'files.{kind}' names {value}, which does not exist; add "
            f"the file or fix the path"
        )
    return relative


def _check_python_files(exercise: Exercise, config_path: Path) -> None:
    for kind in FILE_KINDS:
        for relative in getattr(exercise, kind):
            if relative.suffix != ".py":
                raise TaskError(
                    f"{config_path}: field 'files.{kind}' names {relative}, which is not a "
                    f"Python file; only Python exercises are supported"
                )


def _check_solution_visible(exercise: Exercise, config_path: Path) -> None:
    for relative in exercise.solution:
        if any(_skipped(part) for part in relative.parts):
            raise TaskError(
                f"{config_path}: field 'files.solution' names {relative}, which is in a hidden "
                f"directory that is not copied to the workspace; move the stub next to the tests"
            )


def _check_docs(root: Path) -> None:
    instructions = root / INSTRUCTIONS_FILE
    if not instructions.is_file():
        raise TaskError(f"{instructions}: missing; write the problem statement there")
    for relative in DOC_FILES:
        path = root / relative
        if not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise TaskError(
                f"{path}: not valid UTF-8 ({error.reason}); save it as UTF-8"
            ) from error


def _reference_names(exercise: Exercise, config_path: Path) -> dict[PurePosixPath, PurePosixPath]:
    """Map each example file to the solution file whose name it takes in reference/."""
    if len(exercise.solution) == 1 and len(exercise.example) == 1:
        return {exercise.example[0]: exercise.solution[0]}

    by_name = {solution.name: solution for solution in exercise.solution}
    mapping = {}
    for example in exercise.example:
        if example.name not in by_name:
            raise TaskError(
                f"{config_path}: field 'files.example' names {example}, which matches no "
                f"solution file by name; with several solution or example files, give each "
                f"example the file name of the solution file it replaces"
            )
        mapping[example] = by_name[example.name]
    return mapping


def _test_names(exercise: Exercise, config_path: Path) -> dict[PurePosixPath, str]:
    """Map each test file to its name in tests/, because the task loader needs ``test*.py``."""
    names: dict[PurePosixPath, str] = {}
    for test in exercise.test:
        name = test.name if test.name.startswith("test") else _test_file_name(test)
        if name in names.values():
            raise TaskError(
                f"{config_path}: field 'files.test' has two files that would both be saved as "
                f"tests/{name}; give the test files distinct names"
            )
        names[test] = name
    for editor in exercise.editor:
        if editor.as_posix() in names.values():
            raise TaskError(
                f"{config_path}: field 'files.editor' names {editor}, which would replace the "
                f"test file tests/{editor}; rename one of them"
            )
    return names


def _test_file_name(test: PurePosixPath) -> str:
    stem = test.stem.removesuffix("_test")
    return f"test_{stem}.py"


def _write_task(root: Path, exercise: Exercise) -> None:
    config_path = exercise.root / CONFIG_FILE
    for sub in ("workspace", "tests", "reference"):
        (root / sub).mkdir(parents=True)

    for source, relative in _workspace_files(exercise):
        _copy(source, root / "workspace" / relative)
    for test, name in _test_names(exercise, config_path).items():
        _copy(exercise.root / test, root / "tests" / name)
    for editor in exercise.editor:
        # pytest's default "prepend" import mode puts the test file's directory first on
        # sys.path, and the harness appends the workspace, so this copy wins.
        _copy(exercise.root / editor, root / "tests" / editor)
    for example, solution in _reference_names(exercise, config_path).items():
        _copy(exercise.root / example, root / "reference" / solution)

    expected = count_tests([exercise.root / test for test in exercise.test])
    (root / "task.toml").write_text(_task_toml(exercise, expected), encoding="utf-8")
    (root / "prompt.md").write_text(build_prompt(exercise), encoding="utf-8")


def _workspace_files(exercise: Exercise) -> list[tuple[Path, PurePosixPath]]:
    """List the exercise's files that go into the workspace, with their relative paths."""
    excluded = set(exercise.test) | set(exercise.example)
    files = []
    for dirpath, dirnames, filenames in os.walk(exercise.root):
        dirnames[:] = sorted(name for name in dirnames if not _skipped(name))
        for name in sorted(filenames):
            source = Path(dirpath) / name
            relative = PurePosixPath(source.relative_to(exercise.root).as_posix())
            if _skipped(name) or relative in excluded:
                continue
            if source.is_symlink():
                raise TaskError(f"{source}: symlinks are not allowed in an exercise; copy the file")
            files.append((source, relative))
    return files


def _skipped(name: str) -> bool:
    # Hidden entries include .docs, .meta, .exercism and editor settings.
    return name.startswith(".") or name in SKIPPED_NAMES or Path(name).suffix in SKIPPED_SUFFIXES


def _copy(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)


def _task_toml(exercise: Exercise, expected: int | None) -> str:
    # A JSON string literal is a valid TOML basic string.
    expected_line = f"expected_tests = {expected}\n" if expected else ""
    return TASK_TOML.format(
        task_id=json.dumps(exercise.task_id),
        title=json.dumps(exercise.title),
        expected_line=expected_line,
    )


def build_prompt(exercise: Exercise) -> str:
    """Join the exercise's documents and name the files the agent must edit."""
    docs = []
    for relative in DOC_FILES:
        path = exercise.root / relative
        if path.is_file():
            docs.append(path.read_text(encoding="utf-8").strip())

    sentences = [f"Write your solution in {_code_list(exercise.solution)}."]
    if exercise.editor:
        sentences.append(
            f"Leave {_code_list(exercise.editor)} unchanged: the tests load their own copy, "
            f"so edits there have no effect on the score."
        )
    sentences.append(TESTS_SENTENCE)
    return PROMPT_TEMPLATE.format(
        title=exercise.title, docs="\n\n".join(docs), files=" ".join(sentences)
    )


def _code_list(paths: tuple[PurePosixPath, ...]) -> str:
    return ", ".join(f"`{path}`" for path in paths)


def count_tests(test_files: list[Path]) -> int | None:
    """Return how many tests pytest collects from ``test_files``, or None when unsure.

    Counted: module-level functions named ``test*``, and ``test*`` methods of
    classes named ``Test*`` or derived from ``unittest.TestCase``. Anything
    that can change the count without showing it in the source, such as
    parametrize, inherited tests, nested classes, star imports, imported test
    names or code outside definitions, makes the count unknown.
    """
    total = 0
    for path in test_files:
        count = _count_file_tests(path)
        if count is None:
            log.debug("cannot count the tests in %s; expected_tests is left unset", path)
            return None
        total += count
    return total or None


def _count_file_tests(path: Path) -> int | None:
    try:
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as error:
        raise TaskError(f"{path}: the test file cannot be parsed: {error}") from error

    names: dict[str, int] = {}
    for node in module.body:
        count = _count_statement(node)
        if count is None:
            return None
        name = getattr(node, "name", None)
        if name is not None:
            # A later definition with the same name replaces the earlier one.
            names[name] = count
    return sum(names.values())


def _count_statement(node: ast.stmt) -> int | None:
    """Return the tests one module-level statement defines, or None when unsure."""
    if isinstance(node, ast.Import):
        return 0
    if isinstance(node, ast.ImportFrom):
        imported = [alias.asname or alias.name for alias in node.names]
        unsure = any(name == "*" or _collectable(name) for name in imported)
        return None if unsure else 0
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return _count_function(node)
    if isinstance(node, ast.ClassDef):
        return _count_class(node)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return 0
    if isinstance(node, ast.Pass | ast.Raise) or _is_main_block(node):
        return 0
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return None if _assigns_test_name(node) else 0
    if isinstance(node, ast.Try):
        return _count_try(node)
    # Loops, conditions, calls and other statements may define tests at import time.
    return None


def _is_main_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in (
        "__name__ == '__main__'",
        "'__main__' == __name__",
    )


def _count_try(node: ast.Try) -> int | None:
    """Accept a try block, such as a guarded import, only when it defines no tests."""
    statements = [*node.body, *node.orelse, *node.finalbody]
    for handler in node.handlers:
        statements.extend(handler.body)
    counts = [_count_statement(statement) for statement in statements]
    return 0 if all(count == 0 for count in counts) else None


def _assigns_test_name(node: ast.Assign | ast.AnnAssign) -> bool:
    """Return whether an assignment binds a name that pytest could collect, or ``__test__``."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = [
        name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)
    ]
    return any(_collectable(name) or name == "__test__" for name in names)


def _collectable(name: str) -> bool:
    # pytest's default python_functions and python_classes prefixes, compared case-sensitively.
    return name.startswith("test") or name.startswith("Test")


def _count_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    if node.name in ("pytest_generate_tests", "load_tests"):
        return None
    if not node.name.startswith("test"):
        return 0
    return None if _parametrized(node) else 1


def _parametrized(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        if "parametrize" in ast.unparse(decorator):
            return True
    return False


def _count_class(node: ast.ClassDef) -> int | None:
    is_test_case = any(_is_test_case_base(base) for base in node.bases)
    known_bases = all(_is_test_case_base(base) or _is_object(base) for base in node.bases)
    if not is_test_case and not node.name.startswith("Test"):
        return 0
    if not known_bases or node.keywords or _parametrized(node):
        # Tests inherited from another class, or generated by a metaclass, are not visible here.
        return None

    methods: dict[str, int] = {}
    for statement in node.body:
        if isinstance(statement, ast.ClassDef):
            return None
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            if statement.name == "__init__" and not is_test_case:
                # pytest does not collect a plain class with __init__.
                return None
            count = _count_function(statement)
            if count is None:
                return None
            methods[statement.name] = count
        elif not isinstance(statement, ast.Expr | ast.Assign | ast.AnnAssign | ast.Pass):
            return None
        elif isinstance(statement, ast.Assign | ast.AnnAssign) and _assigns_test_name(statement):
            return None
    return sum(methods.values())


def _is_test_case_base(base: ast.expr) -> bool:
    return ast.unparse(base) in ("unittest.TestCase", "TestCase")


def _is_object(base: ast.expr) -> bool:
    return ast.unparse(base) == "object"
