"""Run configuration: presets, files, options, --set overrides and stored JSON.

No Docker and no model: every case ends before a run starts.
"""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from evolarium.errors import ConfigError
from evolarium.evolve.config import (
    OPERATORS,
    RunConfig,
    Stage,
    apply_overrides,
    apply_stage_options,
    config_differences,
    dump_toml,
    load_config,
    merge_config,
    options_to_dict,
    parse_duration,
    parse_operators,
    preset_names,
)
from evolarium.evolve.replay import run_config
from evolarium.llm.router import ModelConfig


def evolarium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evolarium.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_presets_load_and_validate():
    assert preset_names() == ["dgm", "gepa", "hgm"]
    dgm = RunConfig.from_dict(load_config("dgm"))
    assert dgm.selection == "score-child"
    assert dgm.operator == "self"
    assert dgm.stages == (Stage(3, 0.0), Stage(10, 0.4), Stage(None))
    gepa = RunConfig.from_dict(load_config("gepa"))
    assert gepa.selection == "pareto"
    assert gepa.operators == {"reflect": 1.0}
    assert gepa.stages == (Stage(3, 0.0, beat_parent=True), Stage(None))
    hgm = RunConfig.from_dict(load_config("hgm"))
    assert hgm.selection == "cmp"
    assert hgm.operator == "self"


def test_operator_names_match_operators_package():
    from evolarium.evolve import operators

    assert tuple(operators.OPERATORS) == OPERATORS


def test_config_file_loads_by_path(tmp_path: Path):
    path = tmp_path / "run.toml"
    path.write_text("generations = 7\n[model]\nmax_tokens = 64\n[operators]\nmerge = 1\n")
    config = RunConfig.from_dict(load_config(str(path)))
    assert config.generations == 7
    assert config.model.max_tokens == 64
    assert config.operators == {"merge": 1.0}


def test_config_file_bad_toml_names_line(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text("generations = 3\nselection = \n")
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    message = str(raised.value)
    assert str(path) in message
    assert "line 2" in message
    assert "invalid TOML" in message


def test_config_file_unknown_key_names_file(tmp_path: Path):
    path = tmp_path / "typo.toml"
    path.write_text("generatons = 3\n")
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    message = str(raised.value)
    assert str(path) in message
    assert "'generatons'" in message
    assert "did you mean generations?" in message


def test_config_missing_file_and_preset():
    with pytest.raises(ConfigError, match="unknown preset 'nosuch'.*dgm, gepa, hgm"):
        load_config("nosuch")
    with pytest.raises(ConfigError, match="config file not found: /nonexistent/run.toml"):
        load_config("/nonexistent/run.toml")


def test_precedence_file_options_set(tmp_path: Path):
    path = tmp_path / "run.toml"
    path.write_text("generations = 7\nseed = 4\n[model]\nmax_tokens = 64\ntemperature = 0.5\n")
    data = load_config(str(path))
    data = merge_config(data, options_to_dict({"generations": 9, "max_tokens": 128, "seed": None}))
    data = apply_overrides(data, ["model.max_tokens=256"])
    config = RunConfig.from_dict(data)
    assert config.generations == 9  # the option beats the file
    assert config.seed == 4  # an option not given leaves the file's value
    assert config.model.max_tokens == 256  # --set beats the option
    assert config.model.temperature == 0.5  # tables merge key by key
    assert config.workers == RunConfig().workers  # the default fills the rest


def test_precedence_on_command_line(tmp_path: Path):
    path = tmp_path / "run.toml"
    path.write_text("generations = 7\nseed = 4\n")
    result = evolarium(
        "run",
        "--config",
        str(path),
        "--generations",
        "9",
        "--set",
        "generations=11",
        "--seed",
        "5",
        "--print-config",
    )
    assert result.returncode == 0, result.stderr
    printed = tomllib.loads(result.stdout)
    assert printed["generations"] == 11
    assert printed["seed"] == 5


def test_overrides_nested_values():
    data = apply_overrides(
        {},
        [
            "model.max_tokens=256",
            "budget.dollars=2.5",
            "agent_limits.memory_mb=512",
            "operators.reflect=1",
            "stages=[{tasks=3, threshold=0.2}, {}]",
            "suite=humaneval",
            "max_wall_s=90m",
        ],
    )
    config = RunConfig.from_dict(data)
    assert config.model.max_tokens == 256
    assert config.budget.dollars == 2.5
    assert config.agent_limits.memory_mb == 512
    assert config.operators == {"self": 1.0, "reflect": 1.0}
    assert config.operator == "portfolio"
    assert config.stages == (Stage(3, 0.2), Stage(None))
    assert config.suite == "humaneval"
    assert config.max_wall_s == 5400.0


def test_override_empty_value_restores_default():
    data = apply_overrides(
        {"max_agents": 5, "model": {"max_tokens": 9}}, ["max_agents=", "model.max_tokens="]
    )
    config = RunConfig.from_dict(data)
    assert config.max_agents is None
    assert config.model.max_tokens == ModelConfig().max_tokens


def test_override_does_not_change_input():
    data = {"model": {"max_tokens": 9}}
    apply_overrides(data, ["model.max_tokens=10"])
    assert data == {"model": {"max_tokens": 9}}


@pytest.mark.parametrize(
    ("item", "fragments"),
    [
        ("generations", ["has no '='", "KEY=VALUE"]),
        ("=3", ["no key before '='"]),
        ("generatoins=3", ["'generatoins'", "did you mean generations?"]),
        ("model.max_token=3", ["'model.max_token'", "did you mean model.max_tokens?"]),
        ("operators.mutate=1", ["'operators.mutate'", "operators.self"]),
        ("stages.0.tasks=3", ["stages as a whole list"]),
        ("operator=self", ["older key", "operators="]),
        ("minibatch=5", ["older key", "stages=["]),
    ],
)
def test_override_errors_name_item_and_fix(item, fragments):
    with pytest.raises(ConfigError) as raised:
        apply_overrides({}, [item])
    message = str(raised.value)
    assert repr(item) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"generations": "five"}, ["generations must be an integer", "'five'"]),
        ({"suite": True}, ["suite must be a string", "quote it"]),
        ({"operators": {"self": -1}}, ["weight of operator self", "at least 0", "operators.self"]),
        ({"operators": {"self": 0}}, ["no weight above 0", "--operators self"]),
        ({"operators": {"mutate": 1}}, ["unknown operator 'mutate'", "self, reflect, merge"]),
        ({"operators": {}}, ["at least one operator"]),
        ({"stages": [{}, {"tasks": 3}]}, ["stages[0].tasks is left out", "only the last stage"]),
        ({"stages": []}, ["at least one stage"]),
        ({"stages": [{"tasks": 0}, {}]}, ["--minibatch must be at least 1", "stages[0].tasks"]),
        ({"stages": [{"tasks": 2}, {"tasks": 1, "threshold": 1.5}, {}]}, ["stages[1].threshold"]),
        ({"stages": [{"tasks": 2, "beat_parent": "yes"}]}, ["beat_parent must be true or false"]),
        ({"stages": [{"task": 2}]}, ["'stages[0].task'", "did you mean stages[0].tasks?"]),
        ({"max_agents": 0}, ["--max-agents must be at least 1", "no limit"]),
        ({"max_evaluations": -2}, ["--max-evaluations must be at least 1"]),
        ({"max_wall_s": 0}, ["--max-wall-time must be above 0"]),
        ({"max_wall_s": "soon"}, ["s, m or h", "'soon'"]),
        ({"replay_from": ""}, ["--replay-from must name a run id"]),
        ({"model": "gpt"}, ["model must be a table", "model.KEY=VALUE"]),
        ({"model": {"max_tokens": "many"}}, ["model.max_tokens must be an integer"]),
        ({"nonsense": 1}, ["unknown configuration key 'nonsense'", "known keys:"]),
    ],
)
def test_bad_values_name_field_and_fix(data, fragments):
    with pytest.raises(ConfigError) as raised:
        RunConfig.from_dict(data)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message


def test_old_stored_json_loads():
    stored = {
        "suite": "builtin",
        "generations": 2,
        "operator": "self",
        "minibatch": 5,
        "minibatch_threshold": 0.25,
        "model": {"model": "openai/fake", "api_key": "***"},
    }
    config = RunConfig.from_dict(json.loads(json.dumps(stored)))
    assert config.operators == {"self": 1.0}
    assert config.stages == (Stage(5, 0.25), Stage(None))
    assert config.minibatch == 5
    assert config.model.api_key is None


def test_old_and_new_keys_together_rejected():
    with pytest.raises(ConfigError, match="operators or the older key operator"):
        RunConfig.from_dict({"operator": "self", "operators": {"self": 1}})
    with pytest.raises(ConfigError, match="stages or the older keys"):
        RunConfig.from_dict({"minibatch": 3, "stages": [{}]})


def test_replay_run_config_ignores_unknown_keys():
    stored = RunConfig(generations=4).to_dict()
    stored["from_a_newer_version"] = 1
    stored["model"]["newer_model_key"] = 2
    stored["stages"][0]["newer_stage_key"] = 3
    config = run_config(json.dumps(stored))
    assert config == RunConfig(generations=4)


def test_round_trip_through_json():
    config = RunConfig(
        suite="humaneval",
        tasks=5,
        operators={"self": 2, "reflect": 1},
        stages=(Stage(2, 0.1, beat_parent=True), Stage(4, 0.5), Stage(None)),
        max_agents=10,
        max_evaluations=40,
        max_wall_s=90.5,
        replay_from="r-abc",
    )
    stored = json.loads(json.dumps(config.to_dict()))
    assert RunConfig.from_dict(stored) == config


def test_api_key_masked_in_to_dict():
    config = RunConfig(model=ModelConfig(api_key="secret-key"))
    assert config.to_dict()["model"]["api_key"] == "***"
    assert "secret-key" not in config.to_toml()


def test_minibatch_property_one_stage():
    assert RunConfig().minibatch == 3
    assert RunConfig(stages=(Stage(None),)).minibatch == 0


def test_config_differences_lists_changes():
    old = RunConfig().to_dict()
    new = RunConfig(
        generations=5,
        operators={"self": 1, "reflect": 1},
        stages=(Stage(3, 0.2), Stage(None)),
        model=ModelConfig(max_tokens=256, api_key="changed"),
    ).to_dict()
    differences = config_differences(old, new)
    assert "generations: 3 -> 5" in differences
    assert "operators.reflect: missing -> 1.0" in differences
    assert "stages[0].threshold: 0.0 -> 0.2" in differences
    assert "model.max_tokens: 512 -> 256" in differences
    assert not any(entry.startswith("model.api_key") for entry in differences)
    assert len(differences) == 4
    assert config_differences(old, old) == []


def test_parse_operators_spec():
    assert parse_operators("self") == {"self": 1.0}
    assert parse_operators("self=2, reflect=1") == {"self": 2.0, "reflect": 1.0}
    with pytest.raises(ConfigError, match="weight of reflect must be a number"):
        parse_operators("self=2,reflect=x")
    with pytest.raises(ConfigError, match="names self twice"):
        parse_operators("self,self=2")
    with pytest.raises(ConfigError, match="empty name"):
        parse_operators("self,")


def test_parse_duration_units():
    assert parse_duration("90", "--max-wall-time") == 90.0
    assert parse_duration("45s", "--max-wall-time") == 45.0
    assert parse_duration("90m", "--max-wall-time") == 5400.0
    assert parse_duration("1.5h", "--max-wall-time") == 5400.0
    with pytest.raises(ConfigError, match="--max-wall-time must be seconds"):
        parse_duration("2d", "--max-wall-time")


def test_stage_options_shorthand():
    data = apply_stage_options(load_config("gepa"), 5, None)
    config = RunConfig.from_dict(data)
    assert config.stages == (Stage(5, 0.0, beat_parent=True), Stage(None))
    config = RunConfig.from_dict(apply_stage_options({}, None, 0.3))
    assert config.stages == (Stage(3, 0.3), Stage(None))


def test_dump_toml_escapes_strings():
    data = {"suite": 'a "quoted"\\path\n\x7f\x01 é', "weights": {"odd key": 1.5}}
    assert tomllib.loads(dump_toml(data)) == data


def test_print_config_loads_back():
    options = [
        "--config",
        "dgm",
        "--operators",
        "self=2,merge=1",
        "--max-wall-time",
        "90m",
        "--max-agents",
        "12",
        "--tasks",
        "4",
        "--select",
        "pareto",
        "--set",
        "model.temperature=0.7",
        "--set",
        'suite="builtin"',
        "--skip-invalid",
    ]
    result = evolarium("run", *options, "--print-config")
    assert result.returncode == 0, result.stderr
    loaded = RunConfig.from_dict(tomllib.loads(result.stdout))
    expected = RunConfig(
        tasks=4,
        selection="pareto",
        operators={"self": 2.0, "merge": 1.0},
        stages=(Stage(3, 0.0), Stage(10, 0.4), Stage(None)),
        max_agents=12,
        max_wall_s=5400.0,
        model=ModelConfig(temperature=0.7),
        skip_invalid=True,
    )
    assert loaded == expected
    # Keys without a value are named in a comment, so budgets can be found.
    assert "budget.calls" in result.stdout.split("\n\n", 1)[0]


def test_cli_bad_config_one_line_error(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text("[model\n")
    result = evolarium("run", "--config", str(path), "--print-config")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "line 1" in result.stderr
    assert str(path) in result.stderr.replace("\n", "")
