"""The ``evolarium`` command."""

import argparse
import logging
import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from evolarium import __version__
from evolarium.errors import EvolariumError
from evolarium.plural import counted

log = logging.getLogger("evolarium")
# Output that is not a terminal gets a wide console, so ids in tables are not cut off.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
SKIP_INVALID_HELP = "log invalid tasks and go on with the valid ones, instead of stopping"
CHECK_OUTPUT_LINES = 20


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    # SIGTERM stops a run like Ctrl-C does, so its containers are removed on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args) or 0
    except EvolariumError as error:
        errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        errors.print("interrupted")
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evolarium", description="Evolve coding agents in Docker sandboxes."
    )
    defaults = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--version", action="version", version=f"evolarium {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    _add_run_command(commands)
    _add_resume_command(commands)

    tree = commands.add_parser("tree", help="print the lineage of a run with scores")
    tree.add_argument("run_id", metavar="RUN", help="run id, or a unique prefix of it")
    tree.set_defaults(handler=_tree)

    runs = commands.add_parser("runs", help="list runs")
    runs.set_defaults(handler=_runs)

    watch = commands.add_parser(
        "watch",
        help="follow a run in a live dashboard (plain progress lines when not a terminal)",
        formatter_class=defaults,
    )
    watch.add_argument("run_id", metavar="RUN", help="run id, or a unique prefix of it")
    watch.add_argument("--once", action="store_true", help="print the current state once and exit")
    watch.add_argument(
        "--interval", type=float, default=1.0, help="seconds between reads of the archive"
    )
    watch.set_defaults(handler=_watch)
    _add_inspection_commands(commands)

    archive = commands.add_parser("archive", help="maintain run archives")
    archive_commands = archive.add_subparsers(title="archive commands", metavar="COMMAND")
    migrate = archive_commands.add_parser(
        "migrate", help="upgrade an archive written by an older evolarium to this schema"
    )
    migrate.add_argument(
        "target",
        metavar="RUN_OR_PATH",
        help="run id, prefix, archive.db path, or the URL of a PostgreSQL archive",
    )
    migrate.set_defaults(handler=_archive_migrate)
    archive_check = archive_commands.add_parser(
        "check",
        help="verify the lineage, code snapshots, scores, model calls and run state of a run",
        description="Verify the lineage, code snapshots, scores, model calls and run state in a "
        "run's archive, opened read-only. Exit 0 when clean, 1 when it finds errors or "
        "warnings, 2 when the run cannot be found or read.",
    )
    archive_check.add_argument("run_id", metavar="RUN", help="run id, or a unique prefix of it")
    archive_check.add_argument(
        "--json", action="store_true", help="print the findings as a JSON list instead of tables"
    )
    archive_check.set_defaults(handler=_archive_check)
    _add_archive_copy_command(archive_commands)

    tasks = commands.add_parser("tasks", help="work with task suites")
    task_commands = tasks.add_subparsers(title="task commands", metavar="COMMAND")
    task_list = task_commands.add_parser("list", help="list the tasks of a suite")
    task_list.add_argument(
        "--suite", default="builtin", help="builtin, humaneval, exercism:PATH, or a directory"
    )
    task_list.add_argument("--skip-invalid", action="store_true", help=SKIP_INVALID_HELP)
    task_list.set_defaults(handler=_tasks_list)
    task_check = task_commands.add_parser(
        "check",
        help="check that each reference scores 1.0 and each starting workspace does not",
        formatter_class=defaults,
    )
    task_check.add_argument(
        "suite", metavar="SUITE_OR_DIR", help="builtin, humaneval, exercism:PATH, or a directory"
    )
    task_check.add_argument(
        "--runs", type=int, default=3, help="times each reference is scored; all must score 1.0"
    )
    task_check.add_argument("--skip-invalid", action="store_true", help=SKIP_INVALID_HELP)
    task_check.set_defaults(handler=_tasks_check)

    sandbox = commands.add_parser("sandbox", help="build and manage the sandbox")
    sandbox_commands = sandbox.add_subparsers(title="sandbox commands", metavar="COMMAND")
    build = sandbox_commands.add_parser("build", help="build the sandbox image locally")
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    build.set_defaults(handler=_sandbox_build)
    doctor = sandbox_commands.add_parser(
        "doctor", help="check the daemon, the image, and that the hardening applies"
    )
    doctor.set_defaults(handler=_sandbox_doctor)
    prune = sandbox_commands.add_parser(
        "prune", help="remove evolarium containers whose evolarium process has ended"
    )
    prune.add_argument(
        "--all", action="store_true", help="also remove containers of runs that are still alive"
    )
    prune.set_defaults(handler=_sandbox_prune)
    return parser


def _add_archive_copy_command(archive_commands) -> None:
    copy = archive_commands.add_parser(
        "copy",
        help="copy a run into a PostgreSQL database or a SQLite file",
        description="Copy every row of a run (the run, its agents, the code snapshots they "
        "reference, evaluations, model calls and events) into another archive in one "
        "transaction, then compare counts and snapshot hashes. The source is not changed. "
        "A target that already holds the run is rejected.",
    )
    copy.add_argument("run_id", metavar="RUN", help="run id, or a unique prefix of it")
    copy.add_argument(
        "--to",
        required=True,
        metavar="URL_OR_PATH",
        help="a PostgreSQL URL, or the path of a SQLite archive file (made when missing)",
    )
    copy.set_defaults(handler=_archive_copy)


def _configure_logging(verbose: bool) -> None:
    handler = RichHandler(console=errors, show_path=False, rich_tracebacks=False)
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    for noisy in ("LiteLLM", "litellm", "httpx", "urllib3", "docker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _RunHelpFormatter(argparse.HelpFormatter):
    """Add each run option's default, read from RunConfig, because the parser's are None."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        from evolarium.evolve.config import option_default

        default = option_default(action.dest)
        if action.help is None or default is None:
            return action.help
        return f"{action.help} (default: {default.replace('%', '%%')})"


def _add_run_command(commands) -> None:
    # Every option defaults to None, so only the options given override a --config file.
    run = commands.add_parser(
        "run", help="start an evolution run", formatter_class=_RunHelpFormatter
    )
    run.add_argument(
        "--config",
        metavar="FILE_OR_PRESET",
        help="TOML file of settings, or a preset: dgm, gepa or hgm; options override it",
    )
    run.add_argument(
        "--set",
        action="append",
        dest="overrides",
        metavar="KEY=VALUE",
        help="set a configuration key, applied after every other option; repeatable. KEY may "
        "be dotted (model.max_tokens=256, operators.reflect=1), VALUE is read as TOML, and an "
        "empty VALUE restores the default",
    )
    run.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved configuration as TOML and exit without starting a run",
    )
    run.add_argument("--suite", help="builtin, humaneval, exercism:PATH, or a task directory")
    run.add_argument("--tasks", type=int, help="use the first N tasks of the suite (default: all)")
    run.add_argument("--generations", type=int, help="generations after the seed")
    run.add_argument("--children", type=int, help="children made per generation")
    run.add_argument(
        "--select",
        help="parent selection: score-child (DGM), pareto (GEPA), cmp (HGM), best, or random",
    )
    run.add_argument(
        "--operators",
        metavar="SPEC",
        help="operators that make children, with weights: NAME or NAME=WEIGHT separated by "
        "commas, e.g. self=2,reflect=1; names: self, reflect, merge",
    )
    run.add_argument("--model", help="litellm model string")
    run.add_argument("--api-base", help="URL of an OpenAI-compatible server")
    run.add_argument(
        "--minibatch",
        type=int,
        help="tasks in a child's first stage; sets two stages: these tasks, then the rest",
    )
    run.add_argument(
        "--threshold",
        type=float,
        help="mean first-stage score a child needs to be evaluated on the rest (0 to 1)",
    )
    run.add_argument("--workers", type=int, help="evaluations run at the same time")
    run.add_argument("--steps", type=int, help="step limit of each agent run")
    run.add_argument("--agent-timeout", type=float, help="seconds per agent run")
    run.add_argument("--memory-mb", type=int, help="memory limit of each sandbox, swap included")
    run.add_argument("--workspace-mb", type=int, help="size of each sandbox's /workspace (tmpfs)")
    run.add_argument(
        "--skip-invalid",
        action="store_true",
        default=None,
        help="run the suite's valid tasks and log the invalid ones instead of stopping",
    )
    run.add_argument("--max-tokens", type=int, help="max tokens per model reply")
    run.add_argument("--max-dollars", type=float, help="stop the run when its calls cost this")
    run.add_argument("--max-total-tokens", type=int, help="stop the run after this many tokens")
    run.add_argument("--max-calls", type=int, help="stop the run after this many model calls")
    run.add_argument("--evaluation-tokens", type=int, help="token limit of one evaluation")
    run.add_argument("--evaluation-calls", type=int, help="model call limit of one evaluation")
    run.add_argument("--max-agents", type=int, help="stop the run when it has this many agents")
    run.add_argument("--max-evaluations", type=int, help="stop the run after this many evaluations")
    run.add_argument(
        "--max-wall-time",
        metavar="DURATION",
        help="stop the run after this long: seconds, or a number with s, m or h (e.g. 90m)",
    )
    run.add_argument(
        "--replay-from",
        metavar="RUN",
        help="serve model calls from the responses recorded in run RUN, not a live model",
    )
    run.add_argument("--seed", type=int, help="seed of the loop's random choices")
    run.add_argument(
        "--archive",
        metavar="URL",
        help="store the run's rows in this PostgreSQL database, such as "
        "postgresql+psycopg://USER@HOST:5432/DATABASE; the password comes from "
        "EVOLARIUM_ARCHIVE_URL or PGPASSWORD (default: EVOLARIUM_ARCHIVE_URL, or a SQLite "
        "file in the run directory)",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        help="where evaluations run: local (this machine's Docker, the default) or ray (the "
        "nodes of a Ray cluster; needs pip install 'evolarium[ray]')",
    )
    run.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="the Ray cluster for --executor ray, such as 10.0.0.5:6379; default: RAY_ADDRESS, "
        "or a new Ray instance on this machine",
    )
    run.set_defaults(handler=_run)


def _add_resume_command(commands) -> None:
    resume = commands.add_parser("resume", help="continue a stopped or killed run from its archive")
    resume.add_argument("run_id", metavar="RUN", help="run id, or a unique prefix of it")
    resume.add_argument(
        "--set",
        action="append",
        dest="overrides",
        metavar="KEY=VALUE",
        help="change a configuration key for the rest of the run (needs --force); "
        "VALUE is read as TOML; repeatable",
    )
    resume.add_argument(
        "--force",
        action="store_true",
        help="resume even though --set changes the stored configuration; the change is "
        "stored as an event of the run",
    )
    resume.add_argument(
        "--live", action="store_true", help="draw the live dashboard (needs a terminal)"
    )
    resume.set_defaults(handler=_resume)


def _run(args: argparse.Namespace) -> int:
    from evolarium.evolve.config import RunConfig

    config = RunConfig.from_dict(_run_settings(args))
    if args.print_config:
        sys.stdout.write(config.to_toml())
        return 0

    from evolarium.evolve.session import start_evolution

    return start_evolution(config, console, live=sys.stdout.isatty())


def _run_settings(args: argparse.Namespace) -> dict:
    """Merge a run's settings: defaults < --config < options given < --set."""
    from evolarium.evolve.config import (
        apply_overrides,
        apply_stage_options,
        load_config,
        merge_config,
        options_to_dict,
    )

    data = load_config(args.config) if args.config else {}
    data = merge_config(data, options_to_dict(vars(args)))
    data = apply_stage_options(data, args.minibatch, args.threshold)
    data = apply_overrides(data, args.overrides or [])
    _check_run_options(data)
    return data


def _check_run_options(data: dict) -> None:
    """Reject setting combinations that RunConfig cannot see."""
    from evolarium.errors import ConfigError

    model = data.get("model")
    if isinstance(model, dict) and model.get("api_base") and not model.get("model"):
        raise ConfigError(
            f"--api-base {model['api_base']} needs --model naming the model that server "
            "serves (in a config file: model.model)"
        )


def _resume(args: argparse.Namespace) -> int:
    from evolarium.evolve.session import resume_evolution

    return resume_evolution(args.run_id, args.overrides or [], args.force, console, args.live)


def _watch(args: argparse.Namespace) -> int:
    from evolarium.dashboard.watch import watch
    from evolarium.errors import ConfigError

    if not 0 < args.interval < float("inf"):
        raise ConfigError(
            f"--interval must be a finite number of seconds above 0, got {args.interval}"
        )
    return watch(args.run_id, once=args.once, interval=args.interval, console=console)


def _tree(args: argparse.Namespace) -> int:
    from evolarium.archive.reader import open_archive
    from evolarium.dashboard.tree import lineage_tree
    from evolarium.evolve.run import find_run

    run_id, path = find_run(args.run_id)
    archive = open_archive(path)
    try:
        console.print(lineage_tree(archive, run_id))
    finally:
        archive.close()
    return 0


def _runs(_args: argparse.Namespace) -> int:
    from evolarium.archive.reader import archive_targets
    from evolarium.dashboard.inspect import runs_view

    console.print(runs_view(archive_targets()))
    return 0


def _add_inspection_commands(commands) -> None:
    show = commands.add_parser("show", help="describe an agent: lineage, scores, calls, cost")
    show.add_argument("agent", metavar="AGENT", help="agent id, or a unique prefix of it")
    show.set_defaults(handler=_show)

    diff = commands.add_parser("diff", help="show the code changes from agent A to agent B")
    diff.add_argument("first", metavar="A", help="agent id or unique prefix")
    diff.add_argument("second", metavar="B", help="agent id or unique prefix")
    diff.set_defaults(handler=_diff)

    frontier = commands.add_parser(
        "frontier", help="list the agents that win at least one task, and their wins"
    )
    frontier.add_argument("run_id", metavar="RUN", help="run id, or a unique prefix of it")
    frontier.set_defaults(handler=_frontier)

    calls = commands.add_parser("calls", help="list the model calls of an agent")
    calls.add_argument("agent", metavar="AGENT", help="agent id, or a unique prefix of it")
    calls.set_defaults(handler=_calls)

    export = commands.add_parser(
        "export", help="write a run to JSON, CSV, an HTML page or PNG plots"
    )
    export.add_argument("run_id", metavar="RUN", help="run id, or a unique prefix of it")
    export.add_argument(
        "--format",
        required=True,
        choices=["json", "csv", "html", "png"],
        help="json: one document; csv: evaluations.csv and agents.csv; html: one "
        "self-contained page; png: score, cost and frontier plots",
    )
    export.add_argument(
        "--output",
        default=None,
        help="file for json and html ('-' for standard output), folder for csv and png "
        "(default: named after the run, in the current folder)",
    )
    export.add_argument(
        "--full", action="store_true", help="json: include the request and response of each call"
    )
    export.set_defaults(handler=_export)

    replay = commands.add_parser(
        "replay",
        help="print a run's events again, or re-run an agent's evaluation with --task",
        description=(
            "evolarium replay RUN [--speed X] prints a run's events again at a chosen pace. "
            "evolarium replay AGENT --task T --recorded re-runs the agent's archived "
            "evaluation in a fresh sandbox from the recorded model replies and reports "
            "whether the final workspace is identical; --live asks the run's model again "
            "and stores the result as a new evaluation with stage 'replay'."
        ),
    )
    replay.add_argument("target", metavar="RUN_OR_AGENT", help="run id, or agent id with --task")
    replay.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="times faster than the run happened; 0 prints every event at once",
    )
    replay.add_argument("--task", default=None, help="re-run the agent's evaluation on this task")
    modes = replay.add_mutually_exclusive_group()
    modes.add_argument(
        "--recorded", action="store_true", help="serve the recorded model replies (default)"
    )
    modes.add_argument("--live", action="store_true", help="call the run's model again")
    replay.set_defaults(handler=_replay)


def _show(args: argparse.Namespace) -> int:
    from evolarium.dashboard.inspect import show_agent

    console.print(show_agent(args.agent))
    return 0


def _diff(args: argparse.Namespace) -> int:
    from evolarium.dashboard.codediff import agent_code_diff

    console.print(agent_code_diff(args.first, args.second))
    return 0


def _frontier(args: argparse.Namespace) -> int:
    from evolarium.dashboard.frontier import frontier_view

    console.print(frontier_view(args.run_id))
    return 0


def _calls(args: argparse.Namespace) -> int:
    from evolarium.dashboard.inspect import calls_table

    console.print(calls_table(args.agent))
    return 0


def _export(args: argparse.Namespace) -> int:
    from evolarium.dashboard.export import export_run

    for path in export_run(args.run_id, args.format, output=args.output, full=args.full):
        console.print(f"wrote {escape(str(path))}", highlight=False)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from evolarium.errors import ConfigError

    if args.task is None:
        if args.recorded or args.live:
            raise ConfigError("--recorded and --live re-run an evaluation; add --task TASK_ID")
        from evolarium.dashboard.replay import replay

        replay(args.target, console, args.speed)
        return 0

    from evolarium.archive.reader import locate_agent
    from evolarium.evolve.replay import replay_evaluation

    location = locate_agent(args.target)
    mode = "live" if args.live else "recorded"
    result = replay_evaluation(location.path, location.agent_id, args.task, mode)
    console.print(escape(result.summary()), highlight=False)
    return 0 if result.identical or mode == "live" else 1


def _archive_migrate(args: argparse.Namespace) -> int:
    from evolarium.archive import Archive
    from evolarium.archive.location import describe_target
    from evolarium.archive.models import SCHEMA_VERSION
    from evolarium.evolve.run import find_run, target_of

    target = target_of(args.target)
    if isinstance(target, Path) and not target.is_file():
        _run_id, target = find_run(args.target)
    probe = Archive(f"sqlite:///{target}" if isinstance(target, Path) else target)
    try:
        before = probe.schema_version()
    finally:
        probe.close()
    archive = Archive.open(target, migrate=True)
    archive.close()
    where = describe_target(target)
    if before == SCHEMA_VERSION:
        console.print(f"{where} already has schema version {SCHEMA_VERSION}")
    else:
        console.print(f"migrated {where} from schema version {before} to {SCHEMA_VERSION}")
    return 0


def _archive_copy(args: argparse.Namespace) -> int:
    from evolarium.archive.copy import copy_run
    from evolarium.archive.location import describe_target
    from evolarium.evolve.run import find_run, target_of

    run_id, source = find_run(args.run_id)
    target = target_of(args.to)
    result = copy_run(source, target, run_id)
    console.print(
        f"copied run {run_id} from {escape(describe_target(source))} to "
        f"{escape(describe_target(target))}",
        highlight=False,
    )
    console.print(result.view())
    return 0


def _archive_check(args: argparse.Namespace) -> int:
    from evolarium.archive.check import check_run, report_view

    report = check_run(args.run_id)
    if args.json:
        print(report.to_json())
    else:
        console.print(report_view(report), highlight=False)
    return 1 if report.findings else 0


def _tasks_list(args: argparse.Namespace) -> int:
    from evolarium.tasks import load_suite

    suite = load_suite(args.suite, skip_invalid=args.skip_invalid)
    table = Table("id", "title", "difficulty", "tags", title=f"suite {escape(suite.name)}")
    for task in suite.tasks:
        table.add_row(task.id, escape(task.title), task.difficulty, escape(", ".join(task.tags)))
    console.print(table)
    skipped = f", {len(suite.invalid)} invalid tasks skipped" if suite.invalid else ""
    console.print(f"{counted(len(suite.tasks), 'task')}{skipped}")
    return 0


def _tasks_check(args: argparse.Namespace) -> int:
    from evolarium.errors import ConfigError
    from evolarium.sandbox import docker_client, require_image
    from evolarium.tasks import load_suite
    from evolarium.tasks.check import check_suite, docker_score_function

    if args.runs < 1:
        raise ConfigError(f"--runs {args.runs} is invalid; use 1 or more")
    suite = load_suite(args.suite, skip_invalid=args.skip_invalid)
    client = docker_client()
    score = docker_score_function(client, require_image(client))

    with console.status("checking tasks") as status:

        def report(task, index: int) -> None:
            status.update(f"checking {task.id} ({index + 1} of {len(suite.tasks)})")

        results = check_suite(suite, score, args.runs, on_start=report)

    _print_check_results(suite.name, results)
    failed = [result for result in results if result.verdict != "ok"]
    console.print(f"{len(results) - len(failed)} of {len(results)} tasks ok")
    return 1 if failed else 0


def _print_check_results(suite_name: str, results: list) -> None:
    colors = {"ok": "green", "flaky": "yellow"}
    table = Table(
        "task",
        "schema",
        "reference runs",
        "start score",
        "verdict",
        "detail",
        title=f"check of suite {escape(suite_name)}",
    )
    for result in results:
        start = "-" if result.start_score is None else f"{result.start_score:.2f}"
        runs = "-" if result.schema_error else f"{result.reference_passes}/{result.runs}"
        color = colors.get(result.verdict, "bold red")
        table.add_row(
            escape(result.task_id),
            "invalid" if result.schema_error else "ok",
            runs,
            start,
            f"[{color}]{result.verdict}[/]",
            escape(result.detail),
        )
    console.print(table)

    for result in results:
        if result.output.strip():
            tail = "\n".join(result.output.strip().splitlines()[-CHECK_OUTPUT_LINES:])
            console.print(f"[bold]{escape(result.task_id)}[/]: the last lines of the test output")
            console.print(escape(tail), highlight=False)


def _sandbox_build(args: argparse.Namespace) -> int:
    from evolarium.sandbox.image import build_image

    with console.status("building the sandbox image") as status:

        def report(message: str) -> None:
            console.print(message)
            status.update(message)

        tag = build_image(report, force=args.force)
    console.print(f"sandbox image ready: [bold]{tag}[/]")
    return 0


def _sandbox_doctor(_args: argparse.Namespace) -> int:
    from evolarium.sandbox import docker_client, require_image
    from evolarium.sandbox.doctor import probe_hardening

    client = docker_client()
    version = client.version().get("Version", "unknown")
    console.print(f"Docker daemon: version {version}")
    image = require_image(client)
    console.print(f"sandbox image: {image}")

    results = probe_hardening(client, image)
    table = Table("attack", "result", "detail", title="hardening probe")
    for result in results:
        verdict = "[green]blocked[/]" if result.blocked else "[bold red]NOT BLOCKED[/]"
        table.add_row(result.name, verdict, escape(result.detail))
    console.print(table)
    failed = [result.name for result in results if not result.blocked]
    if failed:
        errors.print(f"[bold red]error:[/] not blocked: {escape(', '.join(failed))}")
        return 1
    console.print(f"all {len(results)} attacks were blocked")
    return 0


def _sandbox_prune(args: argparse.Namespace) -> int:
    from evolarium.sandbox import docker_client
    from evolarium.sandbox.reaper import remove_containers, remove_orphans

    client = docker_client()
    removed = remove_containers(client) if args.all else remove_orphans(client)
    console.print(f"removed {removed} containers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
