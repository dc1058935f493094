"""`evolarium export` to JSON, CSV, HTML and PNG, on archives written by make_run and, once,
by a real evolution run with the scripted loopback model."""

import csv
import io
import json
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console

from evolarium.archive import Archive, Run
from evolarium.dashboard.replay import replay
from tests.test_inspect import (
    CALLS,
    CHEAT,
    CHILD,
    RUN_ID,
    SCORES,
    SEED,
    TAMPERING,
    assert_one_line_error,
    evolarium,
    folder_state,
    make_run,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ["score.png", "cost.png", "frontier.png"]


@pytest.fixture
def built(evolarium_home: Path, tmp_path: Path):
    return make_run(evolarium_home, tmp_path)


def export(*args: str) -> None:
    result = evolarium("export", *args)
    assert result.returncode == 0, result.stderr


# JSON


def test_export_json_document(built, tmp_path):
    target = tmp_path / "run.json"
    export(RUN_ID, "--format", "json", "--output", str(target))
    document = json.loads(target.read_text())

    assert document["run"]["id"] == RUN_ID
    assert document["run"]["config"] == {"generations": 2}
    assert [agent["id"] for agent in document["agents"]] == built.agents
    cheat = next(agent for agent in document["agents"] if agent["id"] == CHEAT)
    assert cheat["parent_id"] == CHILD
    assert cheat["frontier"] is True
    assert cheat["mean_score"] == pytest.approx(sum(SCORES[CHEAT].values()) / 3)

    evaluations = document["evaluations"]
    assert len(evaluations) == sum(len(scores) for scores in SCORES.values())
    flagged = [e for e in evaluations if e["tampering"]]
    assert [(e["agent_id"], e["task_id"], e["tampering"]) for e in flagged] == [
        (CHEAT, "t-alpha", TAMPERING)
    ]
    assert all(e["transcript"] == "transcript" for e in evaluations)

    calls = document["calls"]
    assert [call["prompt_tokens"] for call in calls] == [spec.prompt for spec in CALLS]
    assert [call["cost_usd"] for call in calls] == [spec.cost for spec in CALLS]
    for call in calls:
        assert "request_json" not in call
        assert "response_json" not in call
        assert "request" not in call

    summary = document["summary"]
    assert summary["best_agent"] == CHILD
    assert summary["frontier"] == [CHILD, CHEAT]
    assert summary["calls_without_price"] == sum(1 for spec in CALLS if spec.cost is None)
    assert summary["cost_usd_known"] == pytest.approx(
        sum(spec.cost for spec in CALLS if spec.cost is not None)
    )
    assert [event["kind"] for event in document["events"]][0] == "generation_started"


def test_export_json_full_has_bodies(built):
    result = evolarium("export", RUN_ID, "--format", "json", "--output", "-", "--full")
    assert result.returncode == 0, result.stderr
    calls = json.loads(result.stdout)["calls"]
    assert len(calls) == len(CALLS)
    for call in calls:
        assert call["request"] == {"messages": [{"role": "user", "content": "hi"}]}
        assert call["response"] == {"choices": []}


def test_export_json_default_name(built, tmp_path):
    result = evolarium("export", RUN_ID[:8], "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"{RUN_ID}.json").is_file()
    assert f"wrote {tmp_path / (RUN_ID + '.json')}" in result.stdout


# CSV


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def test_export_csv_rows(built, tmp_path):
    folder = tmp_path / "csv"
    export(RUN_ID, "--format", "csv", "--output", str(folder))

    rows = read_csv(folder / "evaluations.csv")
    expected = [(a, t, s) for a, scores in SCORES.items() for t, s in scores.items()]
    assert sorted((r["agent"], r["task"], float(r["score"])) for r in rows) == sorted(expected)
    parents = {SEED: "", CHILD: SEED, CHEAT: CHILD}
    generations = {SEED: "0", CHILD: "1", CHEAT: "2"}
    for row in rows:
        assert row["parent"] == parents[row["agent"]]
        assert row["generation"] == generations[row["agent"]]
        flagged = row["agent"] == CHEAT and row["task"] == "t-alpha"
        assert row["tampering"] == (TAMPERING if flagged else "")
        assert row["outcome"] == ("tampering" if flagged else "ok")
        assert int(row["tokens"]) > 0

    agents = read_csv(folder / "agents.csv")
    assert [row["agent"] for row in agents] == built.agents
    by_id = {row["agent"]: row for row in agents}
    for agent_id in built.agents:
        specs = [spec for spec in CALLS if spec.agent == agent_id]
        assert int(by_id[agent_id]["calls"]) == len(specs)
        assert int(by_id[agent_id]["prompt_tokens"]) == sum(spec.prompt for spec in specs)
        unknown = sum(1 for spec in specs if spec.cost is None)
        assert int(by_id[agent_id]["calls_without_price"]) == unknown
    assert by_id[CHEAT]["tampering_evaluations"] == "1"
    assert by_id[CHILD]["frontier"] == "True"
    assert by_id[SEED]["frontier"] == "False"


# HTML


class PageParser(HTMLParser):
    """Collect the tags and the src and href attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href") and value:
                self.links.append(value)

    def handle_data(self, data):
        self.text.append(data)


def test_export_html_self_contained(built, tmp_path):
    target = tmp_path / "run.html"
    export(RUN_ID, "--format", "html", "--output", str(target))
    page = target.read_text()
    parser = PageParser()
    parser.feed(page)

    assert parser.links == []
    assert not re.search(r"https?://", page)
    assert "@import" not in page
    assert "url(" not in page
    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert "img" not in parser.tags
    assert parser.tags.count("svg") == 3
    assert "style" in parser.tags

    text = " ".join(parser.text)
    for agent_id in built.agents:
        assert agent_id in text
    for task in SCORES[SEED]:
        assert task in text
    assert f"tampering on t-alpha: {TAMPERING}" in text
    assert "<script>alert(1)</script>" in text
    assert "<script>" not in page
    assert "$0.0040 + unknown" in text
    assert "Pareto frontier" in text


def test_export_html_run_without_rows(evolarium_home, tmp_path):
    archive = Archive.create(evolarium_home / "runs" / "r-empty" / "archive.db")
    archive.add(Run(id="r-empty", suite="builtin", model="m", selection="random", config_json="{}"))
    archive.close()
    target = tmp_path / "empty.html"
    export("r-empty", "--format", "html", "--output", str(target))
    page = target.read_text()
    assert "The run has no agents yet." in page
    assert "The run has made no model calls yet." in page


# PNG


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("run", ["full", "empty"])
def test_export_png_files(evolarium_home, tmp_path, run):
    if run == "full":
        run_id = make_run(evolarium_home, tmp_path).run_id
    else:
        run_id = "r-empty"
        archive = Archive.create(evolarium_home / "runs" / run_id / "archive.db")
        archive.add(Run(id=run_id, suite="builtin", model="m", selection="random", config_json=""))
        archive.close()
    folder = tmp_path / "plots"
    export(run_id, "--format", "png", "--output", str(folder))
    assert sorted(path.name for path in folder.iterdir()) == sorted(PLOTS)
    for name in PLOTS:
        width, height = png_size(folder / name)
        assert width > 200
        assert height > 100
        with Image.open(folder / name) as image:
            image.verify()


# bad output options


def test_export_output_kinds_checked(built, tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    result = evolarium("export", RUN_ID, "--format", "csv", "--output", str(a_file))
    assert_one_line_error(result, "is a file", "csv writes a folder")
    result = evolarium("export", RUN_ID, "--format", "html", "--output", str(tmp_path))
    assert_one_line_error(result, "is a folder", "html writes one file")
    result = evolarium("export", RUN_ID, "--format", "png", "--output", "-")
    assert_one_line_error(result, "--output -", "json only")
    missing = tmp_path / "no" / "such" / "dir" / "run.json"
    result = evolarium("export", RUN_ID, "--format", "json", "--output", str(missing))
    assert_one_line_error(result, "cannot write", "No such file or directory")


# A real run

TASK_COUNT = 3


@pytest.mark.docker
def test_commands_on_real_run(docker_client, sandbox_image, tmp_path):
    from evolarium.evolve.config import RunConfig
    from evolarium.evolve.run import find_run
    from evolarium.llm.router import ModelConfig
    from evolarium.sandbox import Limits
    from evolarium.tasks import load_suite
    from tests.fakeprovider import FakeProvider
    from tests.test_evolution import EVOLVED_MARK, run_and_open, scripted_model

    tasks = list(load_suite("builtin").tasks[:TASK_COUNT])
    with FakeProvider([scripted_model(tasks)] * 200) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=TASK_COUNT,
            generations=2,
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
        )
        run_id, archive = run_and_open(config)
    agents = archive.agents(run_id)
    evaluations = archive.evaluations(run_id)
    calls = archive.calls(run_id)
    events = archive.events(run_id)
    archive.close()
    run_folder = find_run(run_id)[1].parent
    before = folder_state(run_folder)
    seed = next(agent for agent in agents if agent.parent_id is None)
    child = next(agent for agent in agents if agent.parent_id == seed.id)

    listed = evolarium("runs")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if run_id in line)
    assert f"{sum(c.prompt_tokens + c.completion_tokens for c in calls):,}" in row
    assert "+ unknown" in row

    shown = evolarium("show", child.id)
    assert shown.returncode == 0, shown.stderr
    assert f"agent {child.id}  run {run_id}" in shown.stdout
    assert seed.id in shown.stdout

    diff = evolarium("diff", seed.id, child.id)
    assert diff.returncode == 0, diff.stderr
    assert f"+{EVOLVED_MARK}" in diff.stdout

    frontier = evolarium("frontier", run_id)
    assert frontier.returncode == 0, frontier.stderr
    for task in tasks:
        assert task.id in frontier.stdout

    listed_calls = evolarium("calls", child.id)
    assert listed_calls.returncode == 0, listed_calls.stderr
    for purpose in {call.purpose for call in calls if call.agent_id == child.id}:
        assert purpose in listed_calls.stdout

    output = io.StringIO()
    assert replay(run_id, Console(file=output), 0) == len(events)
    assert output.getvalue().count("\n") >= len(events)

    export(run_id, "--format", "json", "--output", str(tmp_path / "run.json"))
    document = json.loads((tmp_path / "run.json").read_text())
    assert {agent["id"] for agent in document["agents"]} == {agent.id for agent in agents}
    assert len(document["evaluations"]) == len(evaluations)
    assert len(document["calls"]) == len(calls)

    export(run_id, "--format", "csv", "--output", str(tmp_path / "csv"))
    assert len(read_csv(tmp_path / "csv" / "evaluations.csv")) == len(evaluations)

    export(run_id, "--format", "html", "--output", str(tmp_path / "run.html"))
    assert not re.search(r"https?://", (tmp_path / "run.html").read_text())

    export(run_id, "--format", "png", "--output", str(tmp_path / "png"))
    for name in PLOTS:
        png_size(tmp_path / "png" / name)

    assert folder_state(run_folder) == before
