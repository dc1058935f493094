"""Bad input on the command line: one-line errors, exit code 2, no traceback.

No model is called: every case fails during the checks before a run starts.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evolarium.archive.models import SCHEMA_VERSION


def evolarium(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        [sys.executable, "-m", "evolarium.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_cli_unknown_suite():
    result = evolarium("run", "--suite", "nosuch")
    assert_one_line_error(result, "unknown suite 'nosuch'", "builtin, humaneval")


def test_cli_unknown_selection():
    result = evolarium("run", "--select", "fittest")
    assert_one_line_error(result, "unknown selection 'fittest'", "score-child")


def test_cli_unknown_model():
    result = evolarium("run", "--model", "nosuchprovider/x")
    assert_one_line_error(result, "nosuchprovider/x")


def test_cli_missing_model_key():
    result = evolarium("run", "--model", "openai/gpt-4o-mini", env={"OPENAI_API_KEY": None})
    assert_one_line_error(result, "OPENAI_API_KEY")


def test_cli_docker_not_running():
    result = evolarium("run", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert_one_line_error(result, "no Docker daemon answers", "/nonexistent/docker.sock")


@pytest.mark.docker
def test_cli_image_override_missing(docker_client):
    result = evolarium("run", env={"EVOLARIUM_SANDBOX_IMAGE": "evolarium-sandbox:missing"})
    assert_one_line_error(result, "EVOLARIUM_SANDBOX_IMAGE=evolarium-sandbox:missing", "unset")


@pytest.mark.docker
def test_image_outdated_names_rebuild(docker_client, sandbox_image, monkeypatch):
    from evolarium.errors import DockerUnavailableError
    from evolarium.sandbox import image

    # The inputs changed since the image was built: its tag no longer matches.
    monkeypatch.setattr(image, "image_tag", lambda: "evolarium-sandbox:000000000000")
    with pytest.raises(DockerUnavailableError) as raised:
        image.require_image(docker_client)
    message = str(raised.value)
    assert "evolarium-sandbox:000000000000 is missing" in message
    # Every other evolarium image on the daemon is listed as outdated, this one too.
    outdated = message.split(" is missing and ", 1)[1].split(" outdated", 1)[0]
    assert sandbox_image in outdated
    assert "evolarium sandbox build" in message


def test_cli_task_without_hidden_tests(tmp_path: Path):
    task = tmp_path / "suite" / "broken"
    (task / "workspace").mkdir(parents=True)
    (task / "prompt.md").write_text("Do something.\n")
    (task / "task.toml").write_text('id = "broken"\ntitle = "Broken"\n[test]\ncommand = "pytest"\n')
    result = evolarium("run", "--suite", str(tmp_path / "suite"))
    assert_one_line_error(result, "no hidden tests", str(task / "tests"))


def test_cli_invalid_generations():
    result = evolarium("run", "--generations", "-1")
    assert_one_line_error(result, "generations", "-1")


def test_cli_tree_unknown_run():
    result = evolarium("tree", "r-nosuch")
    assert_one_line_error(result, "run not found: r-nosuch")


def test_cli_tasks_list_builtin():
    result = evolarium("tasks", "list", "--suite", "builtin")
    assert result.returncode == 0, result.stderr
    assert "fix-median-even" in result.stdout


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--agent-timeout", "-3"], "--agent-timeout must be a finite number of seconds above"),
        (["--agent-timeout", "inf"], "--agent-timeout must be a finite number of seconds above"),
        (["--max-tokens", "0"], "--max-tokens must be at least 1"),
        (["--children", "0"], "--children must be at least 1"),
        (["--max-calls", "0"], "--max-calls must be above 0"),
        (["--evaluation-tokens", "-5"], "--evaluation-tokens must be above 0"),
        (["--memory-mb", "16"], "--memory-mb must be at least 128"),
        (
            ["--max-dollars", "1", "--model", "openai/fake", "--api-base", "http://127.0.0.1:9/v1"],
            "no price for model 'openai/fake'",
        ),
        (["--threshold", "5"], "--threshold must be between 0 and 1"),
        (["--tasks", "1000"], "--tasks 1000 is more than the"),
        (["--api-base", "http://127.0.0.1:9/v1"], "--api-base http://127.0.0.1:9/v1 needs --model"),
        (
            ["--model", "m", "--api-base", "http://127.0.0.1:99999/v1"],
            "api_base 'http://127.0.0.1:99999/v1' of model 'm' is invalid (Port out of range",
        ),
        (["--model", "m", "--api-base", "http://127.0.0.1:abc/v1"], "is invalid (Port could not"),
        (["--model", "m", "--api-base", "http://[::1:18777/v1"], "is invalid (Invalid IPv6 URL)"),
    ],
)
def test_cli_invalid_run_options(options, fragment):
    result = evolarium("run", *options)
    assert_one_line_error(result, fragment)


def test_cli_api_base_not_listening():
    # Port 9 (discard) on loopback: nothing listens there on this machine.
    result = evolarium("run", "--model", "served", "--api-base", "http://127.0.0.1:9/v1")
    assert_one_line_error(result, "cannot connect to api_base http://127.0.0.1:9/v1")


def test_cli_error_keeps_brackets():
    result = evolarium("run", "--suite", "[builtin]")
    assert_one_line_error(result, "unknown suite '[builtin]'")


@pytest.mark.docker
def test_cli_sandbox_doctor(docker_client, sandbox_image):
    result = evolarium("sandbox", "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox_image in result.stdout
    assert "all 13 attacks were blocked" in result.stdout


def old_archive(home: Path) -> Path:
    """Write a schema-1 archive for run r-old under ``home``, as the first release did."""
    import sqlite3

    from evolarium.archive import Archive, Run

    path = home / "runs" / "r-old" / "archive.db"
    archive = Archive.create(path)
    archive.add(Run(id="r-old", suite="builtin", model="m", selection="random", config_json="{}"))
    archive.close()
    connection = sqlite3.connect(path)
    connection.execute("ALTER TABLE evaluation DROP COLUMN tampering")
    connection.execute("ALTER TABLE modelcall DROP COLUMN cost_usd")
    connection.execute("ALTER TABLE modelcall DROP COLUMN attempt")
    connection.execute("DROP INDEX ix_modelcall_request_key")
    connection.execute("ALTER TABLE modelcall DROP COLUMN request_key")
    connection.execute("ALTER TABLE agent DROP COLUMN step")
    connection.execute("ALTER TABLE agent DROP COLUMN operator_outcome")
    connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    return path


def test_cli_old_archive_needs_migrate(evolarium_home: Path):
    old_archive(evolarium_home)
    assert_one_line_error(evolarium("tree", "r-old"), "schema version 1", "archive migrate")

    listed = evolarium("runs")
    assert listed.returncode == 0, listed.stderr
    assert "unreadable" in listed.stdout

    migrated = evolarium("archive", "migrate", "r-old")
    assert migrated.returncode == 0, migrated.stderr
    assert f"from schema version 1 to {SCHEMA_VERSION}" in migrated.stdout
    assert evolarium("tree", "r-old").returncode == 0


def test_cli_workspace_over_tmpfs_cap(tmp_path: Path):
    task = tmp_path / "big-task"
    (task / "workspace").mkdir(parents=True)
    (task / "tests").mkdir()
    (task / "task.toml").write_text('id = "big-task"\ntitle = "Big"\n[test]\ncommand = "pytest"\n')
    (task / "prompt.md").write_text("Fix it.\n")
    (task / "workspace" / "data.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    (task / "tests" / "test_big.py").write_text("def test_big():\n    assert True\n")

    result = evolarium("run", "--suite", str(task), "--workspace-mb", "1")
    assert_one_line_error(result, str(task / "workspace"), "--workspace-mb")


@pytest.mark.parametrize(
    ("command", "fragment"),
    [("resume", "is empty (0 bytes)"), ("tree", "is not an evolarium archive")],
)
def test_cli_empty_archive_untouched(evolarium_home, command, fragment):
    run_dir = evolarium_home / "runs" / "r20260101-000000-0000"
    run_dir.mkdir(parents=True)
    (run_dir / "archive.db").touch()

    result = evolarium(command, run_dir.name)

    assert_one_line_error(result, fragment)
    assert (run_dir / "archive.db").stat().st_size == 0
    assert sorted(path.name for path in run_dir.iterdir()) == ["archive.db"]


def test_cli_home_is_a_file(tmp_path):
    home_file = tmp_path / "home"
    home_file.write_text("not a folder\n")

    result = evolarium("runs", env={"EVOLARIUM_HOME": str(home_file)})

    assert_one_line_error(result, f"{home_file} is not a directory; point EVOLARIUM_HOME at")
