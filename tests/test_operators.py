"""Operators: the portfolio draw, outcome classification, and ``self`` and ``reflect`` runs.

The tests marked ``docker`` run real sandboxes and use the loopback fake provider
(tests/fakeprovider.py) as the model, so every reply is scripted and every request the
operator's agent sent can be inspected.
"""

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from evolarium.agents.contract import rewriter_agent_dir, seed_agent_dir
from evolarium.archive import Agent, Evaluation
from evolarium.archive.snapshot import hash_dir
from evolarium.errors import ConfigError
from evolarium.evolve.operators import OPERATORS, make_child
from evolarium.evolve.operators.base import (
    OUTCOME_AGENT_FAILED,
    OUTCOME_BROKEN_EDIT,
    OUTCOME_NO_CHANGE,
    OUTCOME_NO_CODE,
    OUTCOME_NOT_UTF8,
    OUTCOME_OK,
    OUTCOME_SANDBOX_ERROR,
    OUTCOME_TRUNCATED,
    OperatorInput,
    Parent,
)
from evolarium.evolve.operators.outcome import (
    ModelReply,
    OperatorResult,
    WatchedGateway,
    changed_files,
    classify,
    parse_result_line,
)
from evolarium.evolve.operators.portfolio import choose_operator, parse_portfolio
from evolarium.evolve.operators.reflect import draw_minibatch, reflect_prompt
from evolarium.evolve.operators.self_edit import pick_failures
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider, completion_body

RUN_ID = "test-operators"
PARENT_CODE = 'print("parent agent")\n'
CHILD_CODE = 'print("child agent")\n'
GOOD_EDIT = f"Here is the new agent.\n\nFILE: agent.py\n```python\n{CHILD_CODE}```\n"
NO_CODE_REPLY = "I would improve the prompts, but I will not write code."


# --- portfolio --------------------------------------------------------------------------


def test_parse_portfolio_single_name():
    assert parse_portfolio("self") == {"self": 1.0}


def test_parse_portfolio_weights():
    assert parse_portfolio(" self=2, reflect = 1 ,merge=0.5") == {
        "self": 2.0,
        "reflect": 1.0,
        "merge": 0.5,
    }


def test_parse_portfolio_allows_zero_weight():
    assert parse_portfolio("self=1,merge=0") == {"self": 1.0, "merge": 0.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("self,,reflect", "empty entry"),
        ("=2", "no operator name"),
        ("mutate=1", "unknown operator 'mutate'.*valid names: self, reflect, merge"),
        ("self=fast", "weight 'fast' of operator 'self' is not a number"),
        ("self=-1", "weight -1.0 of operator 'self' is invalid"),
        ("self=nan", "weight nan of operator 'self' is invalid"),
        ("self=inf", "weight inf of operator 'self' is invalid"),
        ("self=1,self=2", "'self' appears twice"),
        ("self=0,reflect=0", "weight 0"),
    ],
)
def test_parse_portfolio_rejects(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_portfolio(text)


def test_choose_operator_seeded_draws_repeat():
    weights = {"self": 1.0, "reflect": 1.0, "merge": 1.0}
    first = [choose_operator(weights, random.Random(7)) for _ in range(5)]
    rng_a, rng_b = random.Random(11), random.Random(11)
    draws_a = [choose_operator(weights, rng_a) for _ in range(200)]
    draws_b = [choose_operator(weights, rng_b) for _ in range(200)]
    assert draws_a == draws_b
    assert len(set(first)) == 1


def test_choose_operator_ignores_dict_order():
    forward = {"self": 1.0, "reflect": 2.0, "merge": 3.0}
    backward = dict(reversed(list(forward.items())))
    rng_a, rng_b = random.Random(3), random.Random(3)
    draws_a = [choose_operator(forward, rng_a) for _ in range(200)]
    draws_b = [choose_operator(backward, rng_b) for _ in range(200)]
    assert draws_a == draws_b


def test_choose_operator_follows_weights():
    weights = {"self": 2.0, "reflect": 1.0, "merge": 1.0}
    rng = random.Random(2024)
    counts = Counter(choose_operator(weights, rng) for _ in range(10_000))
    # The standard deviation of each share is at most 0.005, so 0.03 is six of them.
    assert abs(counts["self"] / 10_000 - 0.5) < 0.03
    assert abs(counts["reflect"] / 10_000 - 0.25) < 0.03
    assert abs(counts["merge"] / 10_000 - 0.25) < 0.03


def test_choose_operator_never_draws_zero_weight():
    weights = {"self": 1.0, "reflect": 0.0, "merge": 0.001}
    rng = random.Random(5)
    draws = Counter(choose_operator(weights, rng) for _ in range(10_000))
    assert draws["reflect"] == 0
    assert draws["self"] > 0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "empty"),
        ({"self": 0.0, "reflect": 0.0}, "weight 0"),
        ({"mutate": 1.0}, "unknown operator 'mutate'"),
        ({"self": -2.0}, "invalid"),
    ],
)
def test_choose_operator_rejects(weights, message):
    with pytest.raises(ConfigError, match=message):
        choose_operator(weights, random.Random(0))


def test_make_child_rejects_unknown_name(tmp_path):
    parent = make_parent(tmp_path, PARENT_CODE)
    with pytest.raises(ConfigError, match="unknown operator 'crossover'.*self, reflect, merge"):
        make_child("crossover", [parent], None)  # type: ignore[arg-type]


def test_operator_names():
    assert OPERATORS == ("self", "reflect", "merge")


# --- failures and minibatches ------------------------------------------------------------


def test_pick_failures_sorts_by_score():
    evaluations = [
        evaluation("a", score=0.5),
        evaluation("b", score=1.0, resolved=True),
        evaluation("c", score=0.0),
        evaluation("d", score=0.2),
    ]
    picked = pick_failures(evaluations, random.Random(1))
    assert [item.task_id for item in picked] == ["c", "d", "a"]


def test_pick_failures_shuffles_ties():
    evaluations = [evaluation(f"task-{index}", score=0.0) for index in range(8)]
    orders = {
        tuple(item.task_id for item in pick_failures(evaluations, random.Random(seed)))
        for seed in range(10)
    }
    assert len(orders) > 1


def test_draw_minibatch_failed_first():
    evaluations = [evaluation(f"pass-{index}", score=1.0, resolved=True) for index in range(5)]
    evaluations += [evaluation("fail-a", score=0.0), evaluation("fail-b", score=0.4)]
    drawn = draw_minibatch(evaluations, 3, random.Random(9))
    assert len(drawn) == 3
    assert {item.task_id for item in drawn[:2]} == {"fail-a", "fail-b"}
    assert drawn[2].resolved


def test_draw_minibatch_one_per_task():
    evaluations = [evaluation("same", score=0.0) for _ in range(4)] + [evaluation("other")]
    drawn = draw_minibatch(evaluations, 3, random.Random(2))
    assert sorted(item.task_id for item in drawn) == ["other", "same"]


def test_draw_minibatch_repeats_with_seed():
    evaluations = [evaluation(f"task-{index}", score=0.0) for index in range(10)]
    first = draw_minibatch(evaluations, 3, random.Random(4))
    second = draw_minibatch(evaluations, 3, random.Random(4))
    assert [item.task_id for item in first] == [item.task_id for item in second]


def test_reflect_prompt_holds_traces():
    failed = evaluation("fix-median", score=0.25, transcript="step 1: wrote median.py")
    failed.test_output = "AssertionError: median([1, 2]) == 1.5"
    failed.tests_passed, failed.tests_total = 1, 4
    prompt = reflect_prompt([failed])
    assert "task fix-median" in prompt
    assert "score 0.25" in prompt
    assert "1 of 4 hidden tests passed" in prompt
    assert "step 1: wrote median.py" in prompt
    assert "AssertionError: median([1, 2]) == 1.5" in prompt


def test_reflect_prompt_fence_outlasts_transcript():
    nested = evaluation("t", transcript="reply:\n```python\nx = 1\n```\n")
    prompt = reflect_prompt([nested])
    assert "````\nreply:\n```python" in prompt


# --- outcome classification -------------------------------------------------------------


def test_parse_result_line_last_line():
    line = 'EVOLARIUM_OPERATOR_RESULT {"outcome": "no_code", "detail": "d", "attempts": 3}'
    assert parse_result_line(f"working\n{line}\n") == OperatorResult("no_code", "d", 3)


@pytest.mark.parametrize(
    "output",
    [
        "",
        "no result line at all",
        'EVOLARIUM_OPERATOR_RESULT {"outcome": "ok", "attempts": 1}\nprinted after it',
        "EVOLARIUM_OPERATOR_RESULT {not json",
        'EVOLARIUM_OPERATOR_RESULT {"outcome": "great", "attempts": 1}',
        'EVOLARIUM_OPERATOR_RESULT {"outcome": "ok", "detail": 5, "attempts": 1}',
        'EVOLARIUM_OPERATOR_RESULT {"outcome": "ok", "attempts": -1}',
        'EVOLARIUM_OPERATOR_RESULT {"outcome": "ok", "attempts": true}',
        'EVOLARIUM_OPERATOR_RESULT ["ok"]',
    ],
)
def test_parse_result_line_rejects(output):
    assert parse_result_line(output) is None


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir()
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def classify_dirs(parent: Path, child: Path, run_outcome="ok", result=None, replies=()):
    return classify(
        differs=hash_dir(parent) != hash_dir(child),
        changed=changed_files(parent, child),
        child_dir=child,
        run_outcome=run_outcome,
        result=result,
        replies=list(replies),
    )


def test_changed_files_lists_added_and_edited(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"a\n", "util.py": b"u\n", "gone.py": b""})
    child = write_tree(tmp_path / "c", {"agent.py": b"b\n", "util.py": b"u\n", "new/x.py": b""})
    assert changed_files(parent, child) == ["agent.py", "new/x.py"]


def test_classify_change_is_ok(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": PARENT_CODE.encode()})
    child = write_tree(tmp_path / "c", {"agent.py": CHILD_CODE.encode()})
    assert classify_dirs(parent, child).outcome == OUTCOME_OK


def test_classify_deleted_file_is_ok(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n", "extra.py": b""})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = 1\n"})
    assert classify_dirs(parent, child).outcome == OUTCOME_OK


def test_classify_not_utf8(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = '\xff\xfe'\n"})
    verdict = classify_dirs(parent, child)
    assert verdict.outcome == OUTCOME_NOT_UTF8
    assert "agent.py" in verdict.detail


def test_classify_unchanged_is_no_change(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = 1\n"})
    replies = [ModelReply(content="```python\nx = 1\n```", finish_reason="stop")]
    assert classify_dirs(parent, child, replies=replies).outcome == OUTCOME_NO_CHANGE


def test_classify_result_line_wins_when_unchanged(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = 1\n"})
    result = OperatorResult(OUTCOME_BROKEN_EDIT, "agent.py does not compile", 3)
    verdict = classify_dirs(parent, child, result=result)
    assert verdict.outcome == OUTCOME_BROKEN_EDIT
    assert verdict.detail == "agent.py does not compile"


def test_classify_result_ok_but_unchanged(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = 1\n"})
    result = OperatorResult(OUTCOME_OK, "", 1)
    assert classify_dirs(parent, child, result=result).outcome == OUTCOME_NO_CHANGE


def test_classify_failed_run_without_change(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = 1\n"})
    replies = [ModelReply(content="", finish_reason=None, error="provider down")]
    verdict = classify_dirs(parent, child, run_outcome="timeout", replies=replies)
    assert verdict.outcome == OUTCOME_AGENT_FAILED
    assert "timeout" in verdict.detail
    assert "provider down" in verdict.detail


def test_classify_failed_run_broken_file(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"def half(:\n"})
    verdict = classify_dirs(parent, child, run_outcome="oom")
    assert verdict.outcome == OUTCOME_AGENT_FAILED
    assert "agent.py" in verdict.detail


def test_classify_failed_run_usable_edit(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = 2\n"})
    assert classify_dirs(parent, child, run_outcome="exit_error").outcome == OUTCOME_OK


def test_classify_infers_truncated_from_replies(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = 1\n"})
    replies = [ModelReply(content="FILE: agent.py\n```python\nx =", finish_reason="length")]
    assert classify_dirs(parent, child, replies=replies).outcome == OUTCOME_TRUNCATED


def test_classify_infers_no_code_from_replies(tmp_path):
    parent = write_tree(tmp_path / "p", {"agent.py": b"x = 1\n"})
    child = write_tree(tmp_path / "c", {"agent.py": b"x = 1\n"})
    replies = [ModelReply(content=NO_CODE_REPLY, finish_reason="stop")] * 2
    assert classify_dirs(parent, child, replies=replies).outcome == OUTCOME_NO_CODE


# --- helpers for sandbox runs -----------------------------------------------------------


def evaluation(task_id: str, score: float = 0.0, resolved: bool = False, transcript: str = ""):
    return Evaluation(
        id=f"eval-{task_id}-{random.random()}",
        run_id=RUN_ID,
        agent_id="parent",
        task_id=task_id,
        stage="minibatch",
        score=score,
        resolved=resolved,
        outcome="ok",
        tests_passed=0,
        tests_total=4,
        duration_s=1.0,
        calls=1,
        tokens=10,
        transcript=transcript,
        test_output="",
    )


def make_parent(tmp_path: Path, code: str, evaluations=()) -> Parent:
    code_dir = tmp_path / "parent"
    code_dir.mkdir()
    (code_dir / "agent.py").write_text(code)
    agent = Agent(
        id="parent", run_id=RUN_ID, operator="seed", generation=0, code_hash=hash_dir(code_dir)
    )
    return Parent(agent=agent, code_dir=code_dir, evaluations=list(evaluations))


def make_inputs(client, image, fake: FakeProvider, tmp_path: Path, max_steps=3) -> OperatorInput:
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
    return OperatorInput(
        client=client,
        image=image,
        gateway=Gateway(Router(config)),
        context=CallContext(run_id=RUN_ID, agent_id="child", purpose="operator"),
        limits=Limits(timeout_s=120),
        max_steps=max_steps,
        rng=random.Random(1),
        dest=tmp_path / "child",
    )


def cut_off(content: str):
    def reply(request: dict) -> dict:
        body = completion_body(content, request, 1)
        body["choices"][0]["finish_reason"] = "length"
        return body

    return reply


def last_user_message(request: dict) -> str:
    return [m["content"] for m in request["messages"] if m["role"] == "user"][-1]


def traced_parent(tmp_path: Path) -> Parent:
    failed = evaluation("fix-median-even", score=0.25, transcript="TRACE-MEDIAN: wrote stats.py")
    failed.test_output = "FEEDBACK-MEDIAN: assert median([1, 2]) == 1.5"
    passed = evaluation("greet", score=1.0, resolved=True, transcript="TRACE-GREET: done")
    return make_parent(tmp_path, PARENT_CODE, [passed, failed])


# --- reflect in a sandbox ---------------------------------------------------------------


@pytest.mark.docker
def test_reflect_good_edit(docker_client, sandbox_image, tmp_path):
    """Uses the fake provider: one good reply makes a child that differs from the parent."""
    parent = traced_parent(tmp_path)
    with FakeProvider([GOOD_EDIT]) as fake:
        inputs = make_inputs(docker_client, sandbox_image, fake, tmp_path)
        child = make_child("reflect", [parent], inputs)

    assert child.outcome == OUTCOME_OK, child.log
    assert child.attempts == 1
    assert (child.code_dir / "agent.py").read_text() == CHILD_CODE
    assert child.code_hash != parent.agent.code_hash
    assert '+print("child agent")' in child.diff
    assert GOOD_EDIT.strip() in child.log
    assert len(fake.requests) == 1
    prompt = last_user_message(fake.requests[0])
    assert "task fix-median-even" in prompt
    assert "TRACE-MEDIAN: wrote stats.py" in prompt
    assert "FEEDBACK-MEDIAN: assert median([1, 2]) == 1.5" in prompt
    assert "TRACE-GREET: done" in prompt
    assert prompt.index("fix-median-even") < prompt.index("task greet")
    assert PARENT_CODE.strip() in prompt
    assert evolarium_containers(docker_client, RUN_ID) == []


@pytest.mark.docker
def test_reflect_retries_until_code(docker_client, sandbox_image, tmp_path):
    """Uses the fake provider: two replies without code, then a good one."""
    parent = traced_parent(tmp_path)
    with FakeProvider([NO_CODE_REPLY, NO_CODE_REPLY, GOOD_EDIT]) as fake:
        inputs = make_inputs(docker_client, sandbox_image, fake, tmp_path)
        child = make_child("reflect", [parent], inputs)

    assert child.outcome == OUTCOME_OK, child.log
    assert child.attempts == 3
    assert len(fake.requests) == 3
    retry = last_user_message(fake.requests[1])
    assert "could not be applied: the reply has no code block" in retry
    assert NO_CODE_REPLY[:40] in retry
    assert fake.requests[1]["messages"][-2]["content"] == NO_CODE_REPLY
    assert (child.code_dir / "agent.py").read_text() == CHILD_CODE


@pytest.mark.docker
def test_reflect_no_code_after_retries(docker_client, sandbox_image, tmp_path):
    """Uses the fake provider: every reply lacks code, so the rewriter stops after 2 retries."""
    parent = traced_parent(tmp_path)
    with FakeProvider([NO_CODE_REPLY] * 5) as fake:
        inputs = make_inputs(docker_client, sandbox_image, fake, tmp_path, max_steps=10)
        child = make_child("reflect", [parent], inputs)

    assert child.outcome == OUTCOME_NO_CODE, child.log
    assert len(fake.requests) == 3
    assert child.attempts == 3
    assert "no code block" in child.detail
    assert NO_CODE_REPLY in child.log
    assert child.code_hash == parent.agent.code_hash


@pytest.mark.docker
def test_reflect_truncated_reply(docker_client, sandbox_image, tmp_path):
    """Uses the fake provider: a reply cut at the token limit, with one request allowed."""
    parent = traced_parent(tmp_path)
    cut_reply = "FILE: agent.py\n```python\nprint('chi"
    with FakeProvider([cut_off(cut_reply)]) as fake:
        inputs = make_inputs(docker_client, sandbox_image, fake, tmp_path, max_steps=1)
        child = make_child("reflect", [parent], inputs)

    assert child.outcome == OUTCOME_TRUNCATED, child.log
    assert "cut off at the token limit" in child.detail
    assert len(fake.requests) == 1
    assert child.code_hash == parent.agent.code_hash


@pytest.mark.docker
def test_reflect_broken_then_unchanged(docker_client, sandbox_image, tmp_path):
    """Uses the fake provider: a reply that does not compile, then the parent's own code."""
    parent = traced_parent(tmp_path)
    broken = "FILE: agent.py\n```python\ndef broken(:\n```\n"
    same = f"FILE: agent.py\n```python\n{PARENT_CODE}```\n"
    with FakeProvider([broken, same]) as fake:
        inputs = make_inputs(docker_client, sandbox_image, fake, tmp_path)
        child = make_child("reflect", [parent], inputs)

    assert child.outcome == OUTCOME_NO_CHANGE, child.log
    assert child.attempts == 2
    retry = last_user_message(fake.requests[1])
    assert "agent.py does not compile" in retry
    assert "SyntaxError" in retry
    assert child.code_hash == parent.agent.code_hash
    assert child.diff == ""


# --- self in a sandbox ------------------------------------------------------------------


@pytest.mark.docker
def test_self_edit_with_seed_agent(docker_client, sandbox_image, tmp_path):
    """Uses the fake provider: the seed agent rewrites its own agent.py from a scripted reply."""
    seed_code = (seed_agent_dir() / "agent.py").read_text()
    edited = seed_code + "# edited by the self operator\n"
    failed = evaluation("fix-median-even", score=0.0, transcript="TRACE-SELF: no edits applied")
    parent = make_parent(tmp_path, seed_code, [failed])
    with FakeProvider([f"FILE: agent.py\n```python\n{edited}```\n"]) as fake:
        inputs = make_inputs(docker_client, sandbox_image, fake, tmp_path, max_steps=1)
        child = make_child("self", [parent], inputs)

    assert child.outcome == OUTCOME_OK, child.log
    assert child.attempts == 1
    assert (child.code_dir / "agent.py").read_text() == edited
    assert "+# edited by the self operator" in child.diff
    assert "TRACE-SELF: no edits applied" in last_user_message(fake.requests[0])


@pytest.mark.docker
def test_self_edit_infers_no_code(docker_client, sandbox_image, tmp_path):
    """Uses the fake provider: the seed agent prints no result line, so replies decide."""
    seed_code = (seed_agent_dir() / "agent.py").read_text()
    parent = make_parent(tmp_path, seed_code)
    with FakeProvider([NO_CODE_REPLY]) as fake:
        inputs = make_inputs(docker_client, sandbox_image, fake, tmp_path, max_steps=1)
        child = make_child("self", [parent], inputs)

    assert child.outcome == OUTCOME_NO_CODE, child.log
    assert child.attempts == 1
    assert NO_CODE_REPLY in child.log
    assert "result line: none" in child.log


@pytest.mark.docker
def test_self_edit_sandbox_error(docker_client, sandbox_image, tmp_path):
    """A parent that floods its workspace makes copying it out fail; no model is called."""
    flood = "for i in range(20000):\n    open(f'/workspace/f{i}', 'w').close()\n"
    parent = make_parent(tmp_path, flood)
    with FakeProvider() as fake:
        inputs = make_inputs(docker_client, sandbox_image, fake, tmp_path)
        inputs.limits = Limits(timeout_s=60, workspace_mb=1)
        child = make_child("self", [parent], inputs)

    assert child.outcome == OUTCOME_SANDBOX_ERROR, child.log
    assert "exceeds" in child.detail
    assert child.code_hash == parent.agent.code_hash
    assert (child.code_dir / "agent.py").read_text() == flood
    assert evolarium_containers(docker_client, RUN_ID) == []


def test_rewriter_agent_dir_has_entry_point():
    assert (rewriter_agent_dir() / "agent.py").is_file()


def test_rewriter_on_host_caps_retries(tmp_path):
    """Uses the fake provider: the rewriter runs as a host process behind a real gateway socket.

    It covers the rewriter's retry loop on machines without a Docker daemon.
    """
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "agent.py").write_text(PARENT_CODE)
    prompt = tmp_path / "prompt.md"
    prompt.write_text(reflect_prompt([evaluation("t1", transcript="TRACE-HOST")]))
    socket_path = tmp_path / "gw" / "llm.sock"
    socket_path.parent.mkdir()
    env = {
        **os.environ,
        "EVOLARIUM_LLM_SOCKET": str(socket_path),
        "EVOLARIUM_MAX_STEPS": "10",
        "EVOLARIUM_WORKSPACE": str(workspace),
        "EVOLARIUM_PROMPT_FILE": str(prompt),
    }
    with FakeProvider([NO_CODE_REPLY] * 5) as fake:
        config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
        watched = WatchedGateway(Gateway(Router(config)))
        with watched.serve(socket_path, CallContext(run_id=RUN_ID, purpose="operator")):
            process = subprocess.run(
                [sys.executable, str(rewriter_agent_dir() / "agent.py")],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

    assert process.returncode == 0, process.stdout
    result = parse_result_line(process.stdout)
    assert result is not None, process.stdout
    assert result.outcome == OUTCOME_NO_CODE
    assert result.attempts == 3
    assert len(fake.requests) == 3
    assert len(watched.replies) == 3
    assert "TRACE-HOST" in last_user_message(fake.requests[0])
    assert "no code block" in last_user_message(fake.requests[2])
    assert (workspace / "agent.py").read_text() == PARENT_CODE
