"""The ``reflect`` operator: reflective mutation in the style of GEPA.

A fixed rewriter agent (evolarium/agents/rewriter) runs in a sandbox with a copy of the
parent's code as its workspace. Its prompt contains a minibatch of the parent's evaluations as
traces with feedback: the task, the outcome and score, the end of the agent's transcript and
the end of the hidden tests' output. The rewriter requests whole new files from the model and
writes them; the edited workspace is the child.
"""

import random

from evolarium.agents.contract import rewriter_agent_dir
from evolarium.archive import Evaluation
from evolarium.evolve.operators.base import Child, OperatorInput, Parent
from evolarium.evolve.operators.self_edit import run_operator_agent

TRANSCRIPT_TAIL_CHARS = 1500
TEST_OUTPUT_TAIL_CHARS = 1000

REFLECT_PROMPT = """\
# Improve this coding agent from traces of its runs

The workspace is the source code of a coding agent: `agent.py` is its entry point. The agent
reads a task from /task/prompt.md, requests code from a language model through the unix
socket named by EVOLARIUM_LLM_SOCKET, edits files in /workspace and exits. Hidden tests then
score the workspace.

Below are {count} runs of the agent, failed ones first, each with its outcome, its score (the
fraction of hidden tests passed), the end of its transcript and the end of the hidden test
output. Work out why the agent failed, then rewrite its code so that it solves such tasks
more often: better prompts, more robust parsing of the model's replies, better use of test
output. Keep it working Python that uses only the standard library and `openai`, and keep
its contract: the same inputs and outputs, and exit code 0 when done.

{traces}
"""

TRACE_TEMPLATE = """\
## Run {number}: task {task_id}, outcome {outcome}, score {score:.2f} \
({passed} of {total} hidden tests passed)

Agent transcript (end):
{fence}
{transcript}
{fence}

Hidden test output (end):
{fence}
{tests}
{fence}
"""


def draw_minibatch(
    evaluations: list[Evaluation], size: int, rng: random.Random
) -> list[Evaluation]:
    """Draw up to ``size`` evaluations with ``rng``, unresolved ones first, one per task."""
    shuffled = list(evaluations)
    rng.shuffle(shuffled)
    shuffled.sort(key=lambda evaluation: evaluation.resolved)  # stable: the draw stays random

    chosen: list[Evaluation] = []
    seen_tasks: set[str] = set()
    for evaluation in shuffled:
        if len(chosen) == size:
            break
        if evaluation.task_id in seen_tasks:
            continue
        seen_tasks.add(evaluation.task_id)
        chosen.append(evaluation)
    return chosen


def reflect_prompt(minibatch: list[Evaluation]) -> str:
    """Build the rewriter's prompt from a minibatch of the parent's evaluations."""
    traces = [_trace(number, evaluation) for number, evaluation in enumerate(minibatch, 1)]
    if not traces:
        traces = ["No evaluations were recorded; make the agent more robust in general."]
    return REFLECT_PROMPT.format(count=len(minibatch), traces="\n".join(traces))


def _trace(number: int, evaluation: Evaluation) -> str:
    transcript = evaluation.transcript[-TRANSCRIPT_TAIL_CHARS:].strip() or "(empty)"
    # NOTE: pytest's short tracebacks quote failing lines of the hidden tests, so the
    # rewriter, and through it the child's code, can learn them over generations.
    tests = evaluation.test_output[-TEST_OUTPUT_TAIL_CHARS:].strip() or "(empty)"
    return TRACE_TEMPLATE.format(
        number=number,
        task_id=evaluation.task_id,
        outcome=evaluation.outcome,
        score=evaluation.score,
        passed=evaluation.tests_passed,
        total=evaluation.tests_total,
        fence=_fence_for(transcript + tests),
        transcript=transcript,
        tests=tests,
    )


def _fence_for(text: str) -> str:
    """Return a backtick fence longer than any run of backticks in ``text``."""
    longest, run = 0, 0
    for character in text:
        run = run + 1 if character == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def reflect_child(parents: list[Parent], inputs: OperatorInput) -> Child:
    """Run the rewriter agent on the first parent's code with a minibatch of its traces."""
    parent = parents[0]
    minibatch = draw_minibatch(parent.evaluations, inputs.minibatch, inputs.rng)
    return run_operator_agent(
        operator="reflect",
        agent_dir=rewriter_agent_dir(),
        prompt=reflect_prompt(minibatch),
        parent=parent,
        inputs=inputs,
    )
