"""`evolarium export`: a run as JSON, CSV, one self-contained HTML page, or PNG plots."""

import csv
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from evolarium import __version__
from evolarium.archive import Agent, Archive, Evaluation, Event, ModelCall, Run
from evolarium.archive.models import SCHEMA_VERSION
from evolarium.archive.reader import locate_run, open_archive
from evolarium.dashboard import summary
from evolarium.dashboard.summary import CallTotals, CostTotal, RunScores
from evolarium.errors import ConfigError

FORMATS = ("json", "csv", "html", "png")
BODY_COLUMNS = {"request_json", "response_json"}

EVALUATION_COLUMNS = [
    "agent",
    "generation",
    "parent",
    "operator",
    "task",
    "stage",
    "score",
    "resolved",
    "tests_passed",
    "tests_total",
    "outcome",
    "tampering",
    "calls",
    "tokens",
    "duration_s",
    "created_at",
]
AGENT_COLUMNS = [
    "agent",
    "parent",
    "generation",
    "operator",
    "status",
    "reason",
    "code_hash",
    "created_at",
    "mean_score",
    "tasks_evaluated",
    "frontier",
    "tampering_evaluations",
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd_known",
    "calls_without_price",
]


@dataclass(frozen=True)
class RunData:
    """Everything an export reads from one run's archive."""

    run: Run
    agents: list[Agent]
    evaluations: list[Evaluation]
    calls: list[ModelCall]
    events: list[Event]
    scores: RunScores
    totals: CallTotals
    agent_totals: dict[str, CallTotals]


def export_run(
    run_query: str,
    export_format: str,
    *,
    output: str | None = None,
    full: bool = False,
    stdout: TextIO = sys.stdout,
) -> list[Path]:
    """Export a run; return the files written, none when JSON goes to standard output.

    ``output`` is a file for json and html, "-" for standard output with json, and
    a folder for csv and png. By default each is named after the run, in the
    current folder.
    """
    if export_format not in FORMATS:
        raise ConfigError(
            f"unknown export format {export_format!r}; use one of {', '.join(FORMATS)}"
        )
    if output == "-" and export_format != "json":
        raise ConfigError(f"--output - works with --format json only, not {export_format}")
    data = load_run(run_query, transcripts=export_format == "json", bodies=full)
    if export_format == "json" and output == "-":
        write_json(data, stdout, full=full)
        return []

    target = Path(output) if output else Path.cwd() / _default_name(data.run.id, export_format)
    try:
        return _write(data, export_format, target, full)
    except OSError as error:
        raise ConfigError(f"cannot write {error.filename or target}: {error.strerror}") from None


def _default_name(run_id: str, export_format: str) -> str:
    if export_format in ("json", "html"):
        return f"{run_id}.{export_format}"
    return f"{run_id}-{export_format}"


def _write(data: RunData, export_format: str, target: Path, full: bool) -> list[Path]:
    if export_format in ("json", "html") and target.is_dir():
        raise ConfigError(f"--output {target} is a folder; {export_format} writes one file")
    if export_format in ("csv", "png") and target.exists() and not target.is_dir():
        raise ConfigError(f"--output {target} is a file; {export_format} writes a folder")

    if export_format == "json":
        with target.open("w", encoding="utf-8") as stream:
            write_json(data, stream, full=full)
        return [target]
    if export_format == "csv":
        return write_csv(data, target)
    if export_format == "html":
        from evolarium.dashboard.report import render_html

        target.write_text(render_html(data), encoding="utf-8")
        return [target]

    from evolarium.dashboard.plots import write_plots

    target.mkdir(parents=True, exist_ok=True)
    return write_plots(data, target)


def load_run(run_query: str, *, transcripts: bool = True, bodies: bool = False) -> RunData:
    """Read a run's rows; leave out evaluation transcripts and call bodies unless asked."""
    run_id, path = locate_run(run_query)
    archive = open_archive(path)
    try:
        run = archive.run(run_id)
        if transcripts:
            evaluations = archive.evaluations(run_id)
        else:
            evaluations = summary.evaluations(archive, run_id)
        return RunData(
            run=run,
            agents=archive.agents(run_id),
            evaluations=evaluations,
            calls=summary.calls(archive, run_id, bodies=bodies),
            events=archive.events(run_id),
            scores=summary.run_scores(archive, run_id, evaluations),
            totals=summary.call_totals(archive, run_id),
            agent_totals=_agent_totals(archive, run_id),
        )
    finally:
        archive.close()


def _agent_totals(archive: Archive, run_id: str) -> dict[str, CallTotals]:
    query = (
        select(
            ModelCall.agent_id,
            func.count(ModelCall.id),
            func.coalesce(func.sum(ModelCall.prompt_tokens), 0),
            func.coalesce(func.sum(ModelCall.completion_tokens), 0),
            func.coalesce(func.sum(ModelCall.cost_usd), 0.0),
            func.count(ModelCall.id) - func.count(ModelCall.cost_usd),
        )
        .where(ModelCall.run_id == run_id)
        .group_by(ModelCall.agent_id)
    )
    with Session(archive.engine) as session:
        rows = session.exec(query).all()
    return {
        agent_id: CallTotals(int(count), int(prompt), int(completion), CostTotal(known, unknown))
        for agent_id, count, prompt, completion, known, unknown in rows
        if agent_id is not None
    }


# JSON


def write_json(data: RunData, stream: TextIO, *, full: bool) -> None:
    json.dump(json_document(data, full=full), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def json_document(data: RunData, *, full: bool) -> dict:
    """Build the JSON export: the run, its agents, evaluations, calls and events."""
    run = _row(data.run)
    run["config"] = _parse_json(run.pop("config_json"))
    best = data.scores.best()
    return {
        "exported_by": f"evolarium {__version__}",
        "schema_version": SCHEMA_VERSION,
        "run": run,
        "summary": {
            "tasks": data.scores.task_ids,
            "best_agent": best[0] if best else None,
            "best_score": best[1] if best else None,
            "frontier": data.scores.frontier,
            "calls": data.totals.calls,
            "prompt_tokens": data.totals.prompt_tokens,
            "completion_tokens": data.totals.completion_tokens,
            "cost_usd_known": data.totals.cost.known_usd,
            "calls_without_price": data.totals.cost.unknown_calls,
        },
        "agents": [_agent_record(agent, data) for agent in data.agents],
        "evaluations": [_row(evaluation) for evaluation in data.evaluations],
        "calls": [_call_record(call, full) for call in data.calls],
        "events": [_event_record(event) for event in data.events],
    }


def _row(row: SQLModel, exclude: Iterable[str] = ()) -> dict:
    """Return a row's columns as JSON values, with times in ISO 8601."""
    skipped = set(exclude)
    record = {}
    for column in row.__table__.columns:
        if column.name in skipped:
            continue
        value = getattr(row, column.name)
        record[column.name] = value.isoformat() if isinstance(value, datetime) else value
    return record


def _agent_record(agent: Agent, data: RunData) -> dict:
    record = _row(agent)
    record["mean_score"] = data.scores.means.get(agent.id)
    record["tasks_evaluated"] = len(data.scores.table.get(agent.id, {}))
    record["frontier"] = agent.id in data.scores.frontier
    return record


def _call_record(call: ModelCall, full: bool) -> dict:
    record = _row(call, exclude=() if full else BODY_COLUMNS)
    if full:
        record["request"] = _parse_json(record.pop("request_json"))
        record["response"] = _parse_json(record.pop("response_json"))
    return record


def _event_record(event: Event) -> dict:
    record = _row(event)
    record["data"] = _parse_json(record.pop("data_json"))
    return record


def _parse_json(text: str | None):
    """Parse a stored JSON column, keeping text that is not valid JSON as it is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# CSV


def write_csv(data: RunData, folder: Path) -> list[Path]:
    """Write evaluations.csv (one row per evaluation) and agents.csv into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    evaluations_path = folder / "evaluations.csv"
    agents_path = folder / "agents.csv"
    _write_rows(evaluations_path, EVALUATION_COLUMNS, _evaluation_rows(data))
    _write_rows(agents_path, AGENT_COLUMNS, _agent_rows(data))
    return [evaluations_path, agents_path]


def _write_rows(path: Path, columns: list[str], rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _evaluation_rows(data: RunData) -> Iterable[dict]:
    agents = {agent.id: agent for agent in data.agents}
    for evaluation in data.evaluations:
        agent = agents.get(evaluation.agent_id)
        yield {
            "agent": evaluation.agent_id,
            "generation": agent.generation if agent else "",
            "parent": (agent.parent_id or "") if agent else "",
            "operator": agent.operator if agent else "",
            "task": evaluation.task_id,
            "stage": evaluation.stage,
            "score": evaluation.score,
            "resolved": evaluation.resolved,
            "tests_passed": evaluation.tests_passed,
            "tests_total": evaluation.tests_total,
            "outcome": evaluation.outcome,
            "tampering": evaluation.tampering or "",
            "calls": evaluation.calls,
            "tokens": evaluation.tokens,
            "duration_s": evaluation.duration_s,
            "created_at": evaluation.created_at.isoformat(),
        }


def _agent_rows(data: RunData) -> Iterable[dict]:
    for agent in data.agents:
        totals = data.agent_totals.get(agent.id, CallTotals())
        mean = data.scores.means.get(agent.id)
        yield {
            "agent": agent.id,
            "parent": agent.parent_id or "",
            "generation": agent.generation,
            "operator": agent.operator,
            "status": agent.status,
            "reason": agent.reason or "",
            "code_hash": agent.code_hash,
            "created_at": agent.created_at.isoformat(),
            "mean_score": "" if mean is None else mean,
            "tasks_evaluated": len(data.scores.table.get(agent.id, {})),
            "frontier": agent.id in data.scores.frontier,
            "tampering_evaluations": len(data.scores.tampered.get(agent.id, [])),
            "calls": totals.calls,
            "prompt_tokens": totals.prompt_tokens,
            "completion_tokens": totals.completion_tokens,
            "cost_usd_known": totals.cost.known_usd,
            "calls_without_price": totals.cost.unknown_calls,
        }
