"""The merge operator: three-way merges of text and trees, partner choice, and conflict
resolution by the rewriter agent in a real sandbox.

Only the tests marked ``docker`` use the loopback fake provider (tests/fakeprovider.py);
the others run no model and no container.
"""

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolarium.archive import Agent, Evaluation
from evolarium.archive.snapshot import hash_dir
from evolarium.evolve.operators.base import (
    OUTCOME_MERGE_CONFLICT,
    OUTCOME_NO_CHANGE,
    OUTCOME_OK,
    OUTCOME_SANDBOX_ERROR,
    OperatorInput,
    Parent,
)
from evolarium.evolve.operators.diff3 import (
    MARKER_BASE,
    MARKER_OURS,
    MARKER_SEPARATOR,
    MARKER_THEIRS,
    merge_text,
    merge_trees,
)
from evolarium.evolve.operators.merge import common_ancestor, merge_child, merge_partner
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider

RUN_ID = "test-merge"
BASE = "one\ntwo\nthree\nfour\nfive\n"


# merge_text


def test_merge_text_separate_lines():
    """Edits to separate lines on each side both land (no fake provider)."""
    merged = merge_text(BASE, "ONE\ntwo\nthree\nfour\nfive\n", "one\ntwo\nthree\nfour\nFIVE\n")
    assert merged.text == "ONE\ntwo\nthree\nfour\nFIVE\n"
    assert merged.conflicts == 0


def test_merge_text_insertions_apart():
    """Insertions at different places and a deletion elsewhere all land (no fake provider)."""
    ours = "zero\none\ntwo\nthree\nfour\nfive\n"
    theirs = "one\ntwo\nthree\nfive\nsix\n"
    merged = merge_text(BASE, ours, theirs)
    assert merged.text == "zero\none\ntwo\nthree\nfive\nsix\n"
    assert merged.conflicts == 0


def test_merge_text_identical_edits():
    """The same edit on both sides is taken once, not a conflict (no fake provider)."""
    edited = "one\nTWO\nthree\nfour\nfive\nsix\n"
    merged = merge_text(BASE, edited, edited)
    assert merged.text == edited
    assert merged.conflicts == 0


def test_merge_text_true_conflict():
    """Different edits of one line give one region with diff3 markers (no fake provider)."""
    merged = merge_text(BASE, "one\nours\nthree\nfour\nfive\n", "one\ntheirs\nthree\nfour\nfive\n")
    expected = [
        "one",
        MARKER_OURS,
        "ours",
        MARKER_BASE,
        "two",
        MARKER_SEPARATOR,
        "theirs",
        MARKER_THEIRS,
        "three",
        "four",
        "five",
    ]
    assert merged.text.splitlines() == expected
    assert merged.conflicts == 1


def test_merge_text_counts_each_region():
    """Two conflicting places give two regions and keep the line between (no fake provider)."""
    ours = "one\nA\nthree\nfour\nB\n"
    theirs = "one\nX\nthree\nfour\nY\n"
    merged = merge_text(BASE, ours, theirs)
    assert merged.conflicts == 2
    assert merged.text.count(MARKER_OURS) == 2
    assert "\nthree\nfour\n" in merged.text


def test_merge_text_insertions_same_place():
    """Different insertions at one place conflict with an empty base (no fake provider)."""
    ours = "one\ntwo\nours\nthree\nfour\nfive\n"
    theirs = "one\ntwo\ntheirs\nthree\nfour\nfive\n"
    merged = merge_text(BASE, ours, theirs)
    region = [MARKER_OURS, "ours", MARKER_BASE, MARKER_SEPARATOR, "theirs", MARKER_THEIRS]
    assert merged.conflicts == 1
    assert merged.text.splitlines() == ["one", "two", *region, "three", "four", "five"]


def test_merge_text_same_insertion_same_place():
    """The same insertion at one place on both sides is taken once (no fake provider)."""
    inserted = "one\ntwo\nnew\nthree\nfour\nfive\n"
    merged = merge_text(BASE, inserted, inserted)
    assert merged.text == inserted
    assert merged.conflicts == 0


def test_merge_text_empty_files():
    """Empty inputs merge to empty or to the side that added text (no fake provider)."""
    assert merge_text("", "", "").text == ""
    assert merge_text("", "", "").conflicts == 0
    assert merge_text("", "added\n", "").text == "added\n"
    assert merge_text("", "", "added\n").text == "added\n"
    assert merge_text(BASE, "", BASE).text == ""


def test_merge_text_both_add_to_empty():
    """Different text added to an empty base is one conflict (no fake provider)."""
    merged = merge_text("", "ours\n", "theirs\n")
    assert merged.conflicts == 1
    assert merged.text.splitlines() == [
        MARKER_OURS,
        "ours",
        MARKER_BASE,
        MARKER_SEPARATOR,
        "theirs",
        MARKER_THEIRS,
    ]


def test_merge_text_deletion_vs_edit():
    """Deleting a line that the other side edits is a conflict (no fake provider)."""
    deleted = "one\nthree\nfour\nfive\n"
    edited = "one\nTWO\nthree\nfour\nfive\n"
    merged = merge_text(BASE, deleted, edited)
    assert merged.conflicts == 1
    assert merged.text.splitlines() == [
        "one",
        MARKER_OURS,
        MARKER_BASE,
        "two",
        MARKER_SEPARATOR,
        "TWO",
        MARKER_THEIRS,
        "three",
        "four",
        "five",
    ]


def test_merge_text_deletion_apart_from_edit():
    """A deletion and an edit of lines apart both land (no fake provider)."""
    merged = merge_text(BASE, "one\nthree\nfour\nfive\n", "one\ntwo\nthree\nfour\nFIVE\n")
    assert merged.text == "one\nthree\nfour\nFIVE\n"
    assert merged.conflicts == 0


def test_merge_text_missing_final_newline():
    """A last line without a newline stays so, and in a conflict it ends before the marker
    (no fake provider)."""
    assert merge_text("a\nb", "A\nb", "a\nb").text == "A\nb"
    merged = merge_text("a\nb", "a\nours", "a\ntheirs")
    assert merged.conflicts == 1
    assert f"ours\n{MARKER_BASE}\nb\n{MARKER_SEPARATOR}\ntheirs\n{MARKER_THEIRS}\n" in merged.text


def test_merge_text_repeated_lines_in_long_file():
    """Lines that repeat often in a long file still align, so edits at both ends merge
    (no fake provider)."""
    base = "pass\n" * 300
    merged = merge_text(base, "first\n" + base, base + "last\n")
    assert merged.conflicts == 0
    assert merged.text == "first\n" + base + "last\n"

    code = "".join(f"def f{i}():\n    pass\n\n" for i in range(150))
    ours = code.replace("def f3():", "def f3(x):")
    theirs = code.replace("def f140():", "def f140(y):")
    merged = merge_text(code, ours, theirs)
    assert merged.conflicts == 0
    assert merged.text == ours.replace("def f140():", "def f140(y):")


lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "\n", "x", "d\r\n"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(base=lines, side=lines)
def test_merge_text_unchanged_side_property(base, side):
    """Merging a side against an unchanged base returns that side exactly, on either
    position, and merging a side with itself returns it (no fake provider)."""
    base_text = "".join(base)
    side_text = "".join(side)

    theirs_only = merge_text(base_text, base_text, side_text)
    ours_only = merge_text(base_text, side_text, base_text)
    both = merge_text(base_text, side_text, side_text)

    assert theirs_only.text == side_text
    assert theirs_only.conflicts == 0
    assert ours_only.text == side_text
    assert ours_only.conflicts == 0
    assert both.text == side_text
    assert both.conflicts == 0


# merge_trees


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def tree_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_merge_trees_adds_and_removes(tmp_path):
    """Files added or removed on one side take that side (no fake provider)."""
    base = write_tree(tmp_path / "base", {"keep.py": "k\n", "gone.py": "g\n", "sub/old.py": "o\n"})
    ours = write_tree(tmp_path / "ours", {"keep.py": "k\n", "sub/old.py": "o\n", "new.py": "n\n"})
    theirs = write_tree(
        tmp_path / "theirs", {"keep.py": "k\n", "gone.py": "g\n", "sub/added.py": "a\n"}
    )

    result = merge_trees(base, ours, theirs, tmp_path / "dest")

    assert tree_files(tmp_path / "dest") == {
        "keep.py": b"k\n",
        "new.py": b"n\n",
        "sub/added.py": b"a\n",
    }
    assert result.clean
    assert sorted(result.one_sided) == ["gone.py", "new.py", "sub/added.py", "sub/old.py"]


def test_merge_trees_merges_text_files(tmp_path):
    """A text file changed on both sides is merged line by line (no fake provider)."""
    base = write_tree(tmp_path / "base", {"agent.py": BASE, "notes.md": "x\n"})
    ours = write_tree(
        tmp_path / "ours", {"agent.py": BASE.replace("one", "ONE"), "notes.md": "o\n"}
    )
    theirs = write_tree(
        tmp_path / "theirs", {"agent.py": BASE.replace("five", "FIVE"), "notes.md": "t\n"}
    )

    result = merge_trees(base, ours, theirs, tmp_path / "dest")

    merged = (tmp_path / "dest" / "agent.py").read_text()
    assert merged == "ONE\ntwo\nthree\nfour\nFIVE\n"
    assert result.merged == ["agent.py"]
    assert result.conflicts == {"notes.md": 1}
    assert MARKER_OURS in (tmp_path / "dest" / "notes.md").read_text()
    assert not result.clean


def test_merge_trees_binary_conflict_keeps_ours(tmp_path):
    """Binary and non-UTF-8 files changed differently on both sides keep ours and are
    listed; one changed on one side only takes it (no fake provider)."""
    base = write_tree(
        tmp_path / "base", {"data.bin": b"\0base", "latin.txt": b"caf\xe9\n", "one.bin": b"\0a"}
    )
    ours = write_tree(
        tmp_path / "ours", {"data.bin": b"\0ours", "latin.txt": b"ours\xe9\n", "one.bin": b"\0a"}
    )
    theirs = write_tree(
        tmp_path / "theirs",
        {"data.bin": b"\0theirs", "latin.txt": b"theirs\xe9\n", "one.bin": b"\0b"},
    )

    result = merge_trees(base, ours, theirs, tmp_path / "dest")

    assert tree_files(tmp_path / "dest") == {
        "data.bin": b"\0ours",
        "latin.txt": b"ours\xe9\n",
        "one.bin": b"\0b",
    }
    assert sorted(result.kept_ours) == ["data.bin", "latin.txt"]
    assert result.conflicts == {}
    assert not result.clean


def test_merge_trees_edit_vs_removal(tmp_path):
    """A file that one side edits and the other removes becomes a conflict region
    (no fake provider)."""
    base = write_tree(tmp_path / "base", {"agent.py": BASE})
    ours = write_tree(tmp_path / "ours", {"agent.py": BASE.replace("two", "TWO")})
    theirs = write_tree(tmp_path / "theirs", {"other.py": "x\n"})

    result = merge_trees(base, ours, theirs, tmp_path / "dest")

    text = (tmp_path / "dest" / "agent.py").read_text()
    assert result.conflicts == {"agent.py": 1}
    assert text.startswith(f"{MARKER_OURS}\none\nTWO\n")
    assert text.endswith(f"{MARKER_SEPARATOR}\n{MARKER_THEIRS}\n")


def test_merge_trees_ignores_caches(tmp_path):
    """__pycache__ folders and .pyc files are left out of the merge (no fake provider)."""
    base = write_tree(tmp_path / "base", {"agent.py": "a\n"})
    ours = write_tree(
        tmp_path / "ours", {"agent.py": "a\n", "__pycache__/agent.cpython-311.pyc": b"\0"}
    )
    theirs = write_tree(tmp_path / "theirs", {"agent.py": "a\n", "stale.pyc": b"\0x"})

    merge_trees(base, ours, theirs, tmp_path / "dest")

    assert tree_files(tmp_path / "dest") == {"agent.py": b"a\n"}


def test_merge_trees_executable_bit(tmp_path):
    """A mode change on one side and a text change on the other both land (no fake
    provider)."""
    base = write_tree(tmp_path / "base", {"run.sh": BASE})
    ours = write_tree(tmp_path / "ours", {"run.sh": BASE})
    (ours / "run.sh").chmod(0o755)
    theirs = write_tree(tmp_path / "theirs", {"run.sh": BASE.replace("one", "ONE")})

    merge_trees(base, ours, theirs, tmp_path / "dest")

    merged = tmp_path / "dest" / "run.sh"
    assert merged.read_text().startswith("ONE\n")
    assert merged.stat().st_mode & 0o100


def test_merge_trees_file_vs_directory(tmp_path):
    """A file that the other side turned into a directory keeps ours (no fake provider)."""
    base = write_tree(tmp_path / "base", {"tools": "t\n"})
    ours = write_tree(tmp_path / "ours", {"tools/a.py": "a\n"})
    theirs = write_tree(tmp_path / "theirs", {"tools": "changed\n"})

    result = merge_trees(base, ours, theirs, tmp_path / "dest")

    assert tree_files(tmp_path / "dest") == {"tools/a.py": b"a\n"}
    assert result.kept_ours == ["tools"]
    assert result.conflicts == {}


# common_ancestor and merge_partner


def agent(agent_id: str, parent_id: str | None, code_hash: str | None = None) -> Agent:
    return Agent(
        id=agent_id,
        run_id=RUN_ID,
        parent_id=parent_id,
        operator="seed" if parent_id is None else "self",
        generation=0,
        code_hash=code_hash or f"hash-{agent_id}",
    )


def family() -> dict[str, Agent]:
    # seed -> a -> a1, a -> a2 -> a21; seed -> b; orphan has no link to seed.
    rows = [
        agent("seed", None),
        agent("a", "seed"),
        agent("a1", "a"),
        agent("a2", "a"),
        agent("a21", "a2"),
        agent("b", "seed"),
        agent("orphan", None),
    ]
    return {row.id: row for row in rows}


def test_common_ancestor_nearest():
    """The nearest shared ancestor is found, not the seed (no fake provider)."""
    by_id = family()
    assert common_ancestor(by_id["a1"], by_id["a21"], by_id).id == "a"
    assert common_ancestor(by_id["a21"], by_id["a1"], by_id).id == "a"
    assert common_ancestor(by_id["a1"], by_id["b"], by_id).id == "seed"


def test_common_ancestor_self_and_lineage():
    """An agent is its own ancestor, so an ancestor of the other is returned
    (no fake provider)."""
    by_id = family()
    assert common_ancestor(by_id["a1"], by_id["a1"], by_id).id == "a1"
    assert common_ancestor(by_id["a"], by_id["a21"], by_id).id == "a"
    assert common_ancestor(by_id["a21"], by_id["seed"], by_id).id == "seed"


def test_common_ancestor_unrelated():
    """Agents with no shared ancestor, or a missing parent row, give None (no fake
    provider)."""
    by_id = family()
    assert common_ancestor(by_id["a1"], by_id["orphan"], by_id) is None
    lost = agent("lost", "not-stored")
    assert common_ancestor(lost, by_id["a1"], by_id) is None


def test_common_ancestor_cycle():
    """A cycle of parent links ends the walk instead of hanging (no fake provider)."""
    by_id = {row.id: row for row in [agent("x", "y"), agent("y", "x"), agent("z", "z")]}
    assert common_ancestor(by_id["x"], by_id["z"], by_id) is None
    assert common_ancestor(by_id["x"], by_id["y"], by_id).id == "y"


def test_merge_partner_excludes_lineage():
    """Ancestors, descendants, itself and unrelated agents are never picked
    (no fake provider)."""
    by_id = family()
    candidates = [by_id[name] for name in ["seed", "a", "a1", "orphan"]]
    assert merge_partner(by_id["a1"], candidates, by_id, random.Random(0)) is None
    assert merge_partner(by_id["a"], [by_id["a21"], by_id["a1"]], by_id, random.Random(0)) is None


def test_merge_partner_pairs_with_ancestor():
    """Every pick is an allowed partner with its nearest common ancestor, and each
    allowed partner is picked for some seed (no fake provider)."""
    by_id = family()
    candidates = list(by_id.values())
    picks = {}
    for seed in range(40):
        partner, ancestor = merge_partner(by_id["a1"], candidates, by_id, random.Random(seed))
        picks[partner.id] = ancestor.id
    assert picks == {"a2": "a", "a21": "a", "b": "seed"}


def test_merge_partner_skips_same_code():
    """Candidates with first's code, or with their ancestor's code, are skipped
    (no fake provider)."""
    by_id = family()
    by_id["a2"].code_hash = by_id["a1"].code_hash
    by_id["a21"].code_hash = by_id["a"].code_hash
    by_id["b"].code_hash = by_id["seed"].code_hash
    candidates = list(by_id.values())
    assert merge_partner(by_id["a1"], candidates, by_id, random.Random(0)) is None


def test_merge_partner_ignores_candidate_order():
    """The pick depends on the rng, not on the order of the candidates (no fake provider)."""
    by_id = family()
    candidates = list(by_id.values())
    forward = merge_partner(by_id["a1"], candidates, by_id, random.Random(7))
    backward = merge_partner(by_id["a1"], candidates[::-1], by_id, random.Random(7))
    assert forward[0].id == backward[0].id


# merge_child without conflicts (no sandbox is started)


def parent(root: Path, name: str, files: dict[str, str], solved: tuple[str, ...] = ()) -> Parent:
    code_dir = write_tree(root / name, files)
    row = agent(name, None, hash_dir(code_dir))
    evaluations = [evaluation(name, task_id, True) for task_id in solved]
    evaluations.append(evaluation(name, "unsolved-task", False))
    return Parent(agent=row, code_dir=code_dir, evaluations=evaluations)


def evaluation(agent_id: str, task_id: str, resolved: bool) -> Evaluation:
    return Evaluation(
        id=f"{agent_id}-{task_id}",
        run_id=RUN_ID,
        agent_id=agent_id,
        task_id=task_id,
        stage="full",
        score=1.0 if resolved else 0.0,
        resolved=resolved,
        outcome="ok",
        tests_passed=1 if resolved else 0,
        tests_total=1,
        duration_s=1.0,
        calls=1,
        tokens=10,
        transcript="",
        test_output="",
    )


def offline_input(dest: Path) -> OperatorInput:
    # Clean merges never touch the client, the image or the model; a call would fail.
    return OperatorInput(
        client=None,
        image="no-image",
        gateway=None,
        context=CallContext(run_id=RUN_ID, purpose="operator"),
        limits=Limits(timeout_s=30),
        max_steps=1,
        rng=random.Random(0),
        dest=dest,
    )


def test_merge_child_clean(tmp_path):
    """A clean merge is a child with outcome ok and a diff against ours (no fake
    provider, no sandbox)."""
    ancestor = parent(tmp_path, "base", {"agent.py": BASE})
    ours = parent(tmp_path, "ours", {"agent.py": BASE.replace("one", "ONE")})
    theirs = parent(tmp_path, "theirs", {"agent.py": BASE.replace("five", "FIVE")})

    child = merge_child([ours, theirs], ancestor, offline_input(tmp_path / "child"))

    assert child.outcome == OUTCOME_OK
    assert child.code_hash == hash_dir(tmp_path / "child")
    assert (tmp_path / "child" / "agent.py").read_text() == "ONE\ntwo\nthree\nfour\nFIVE\n"
    assert "-five\n+FIVE\n" in child.diff
    assert "ONE" not in child.diff
    assert "agent.py" in child.log
    assert child.attempts == 0


def test_merge_child_equal_to_parent(tmp_path):
    """A merge whose result is one parent's code is no_change (no fake provider, no
    sandbox)."""
    ancestor = parent(tmp_path, "base", {"agent.py": BASE})
    ours = parent(tmp_path, "ours", {"agent.py": BASE.replace("one", "ONE")})
    theirs = parent(tmp_path, "theirs", {"agent.py": BASE.replace("one", "ONE")})

    child = merge_child([ours, theirs], ancestor, offline_input(tmp_path / "child"))

    assert child.outcome == OUTCOME_NO_CHANGE
    assert child.diff == ""


def test_merge_child_needs_two_parents(tmp_path):
    """One parent is rejected with ValueError (no fake provider, no sandbox)."""
    ancestor = parent(tmp_path, "base", {"agent.py": BASE})
    with pytest.raises(ValueError, match="expected 2 parents"):
        merge_child([ancestor], ancestor, offline_input(tmp_path / "child"))


# merge_child with conflicts, resolved by the rewriter in a real sandbox

AGENT_BASE = 'PROMPT = "solve it"\nSTEPS = 1\n\n\ndef main():\n    return 0\n'
AGENT_OURS = AGENT_BASE.replace('"solve it"', '"solve it step by step"')
AGENT_THEIRS = AGENT_BASE.replace('"solve it"', '"solve it and run the tests"')
AGENT_RESOLVED = AGENT_BASE.replace('"solve it"', '"solve it step by step and run the tests"')


def conflicting_parents(root: Path) -> tuple[Parent, Parent, Parent]:
    ancestor = parent(root, "base", {"agent.py": AGENT_BASE, "helper.py": BASE})
    ours = parent(
        root,
        "ours",
        {"agent.py": AGENT_OURS, "helper.py": BASE.replace("one", "ONE")},
        solved=("task-a", "task-b"),
    )
    theirs = parent(
        root,
        "theirs",
        {"agent.py": AGENT_THEIRS, "helper.py": BASE.replace("five", "FIVE")},
        solved=("task-c",),
    )
    return ancestor, ours, theirs


def sandbox_input(docker_client, sandbox_image, fake: FakeProvider, dest: Path) -> OperatorInput:
    gateway = Gateway(Router(ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")))
    return OperatorInput(
        client=docker_client,
        image=sandbox_image,
        gateway=gateway,
        context=CallContext(run_id=RUN_ID, purpose="operator"),
        limits=Limits(timeout_s=120),
        max_steps=1,
        rng=random.Random(0),
        dest=dest,
    )


def rewriter_prompt(request: dict) -> str:
    return "\n".join(str(message.get("content", "")) for message in request["messages"])


@pytest.mark.docker
def test_merge_child_rewriter_resolves(docker_client, sandbox_image, tmp_path):
    """The rewriter, scripted by the fake provider, returns the resolved file, so the
    child is ok and contains both parents' changes (uses the fake provider)."""
    ancestor, ours, theirs = conflicting_parents(tmp_path)
    resolved = f"FILE: agent.py\n```python\n{AGENT_RESOLVED}```\n"

    with FakeProvider([resolved] * 5) as fake:
        inputs = sandbox_input(docker_client, sandbox_image, fake, tmp_path / "child")
        child = merge_child([ours, theirs], ancestor, inputs)
        prompt = rewriter_prompt(fake.requests[0])

    assert child.outcome == OUTCOME_OK, child.log
    assert (tmp_path / "child" / "agent.py").read_text() == AGENT_RESOLVED
    assert (tmp_path / "child" / "helper.py").read_text() == "ONE\ntwo\nthree\nfour\nFIVE\n"
    assert child.code_hash == hash_dir(tmp_path / "child")
    assert child.attempts >= 1
    assert '+PROMPT = "solve it step by step and run the tests"' in child.diff
    assert "agent.py (1)" in child.log
    assert "helper.py" in child.log
    assert "`agent.py`" in prompt
    assert MARKER_OURS in prompt
    assert "task-a, task-b" in prompt
    assert "task-c" in prompt
    assert "unsolved-task" not in prompt
    assert evolarium_containers(docker_client, RUN_ID) == []


@pytest.mark.docker
def test_merge_child_rewriter_leaves_markers(docker_client, sandbox_image, tmp_path):
    """The rewriter, scripted by the fake provider, returns no file, so the markers stay
    and the outcome is merge_conflict naming the file (uses the fake provider)."""
    ancestor, ours, theirs = conflicting_parents(tmp_path)

    with FakeProvider(["I cannot resolve these conflicts."] * 5) as fake:
        inputs = sandbox_input(docker_client, sandbox_image, fake, tmp_path / "child")
        child = merge_child([ours, theirs], ancestor, inputs)

    assert child.outcome == OUTCOME_MERGE_CONFLICT, child.log
    assert "agent.py" in child.detail
    assert "helper.py" not in child.detail
    assert MARKER_THEIRS in (tmp_path / "child" / "agent.py").read_text()
    assert "[rewriter outcome: " in child.log
    assert evolarium_containers(docker_client, RUN_ID) == []


@pytest.mark.docker
def test_merge_child_sandbox_error(docker_client, sandbox_image, tmp_path):
    """A sandbox that cannot start (its image is missing) gives sandbox_error instead of
    raising, and the merged tree with markers is kept (uses the fake provider, which gets
    no request)."""
    ancestor, ours, theirs = conflicting_parents(tmp_path)

    with FakeProvider([]) as fake:
        inputs = sandbox_input(docker_client, sandbox_image, fake, tmp_path / "child")
        inputs.image = "evolarium-test-missing-image:none"
        child = merge_child([ours, theirs], ancestor, inputs)
        requests = len(fake.requests)

    assert child.outcome == OUTCOME_SANDBOX_ERROR
    # The named error, not a failed pull: no registry is asked for the image.
    assert "evolarium-test-missing-image:none is missing" in child.detail
    assert child.attempts == 0
    assert requests == 0
    assert MARKER_OURS in (tmp_path / "child" / "agent.py").read_text()
    assert evolarium_containers(docker_client, RUN_ID) == []
