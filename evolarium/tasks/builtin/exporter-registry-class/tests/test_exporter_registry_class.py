import importlib

import pytest

import exporters
import exporters.registry

ROWS = [{"name": "ada", "score": 3}, {"name": "b|c", "extra": True}]

EXPECTED = {
    "csv": "name,score,extra\nada,3,\nb|c,,True\n",
    "json": (
        '[\n  {\n    "name": "ada",\n    "score": 3\n  },\n'
        '  {\n    "extra": true,\n    "name": "b|c"\n  }\n]\n'
    ),
    "markdown": (
        "| name | score | extra |\n| --- | --- | --- |\n| ada | 3 |  |\n| b\\|c |  | True |\n"
    ),
}


def new_registry():
    return exporters.registry.Registry()


def test_builtin_output_unchanged():
    assert exporters.names() == ["csv", "json", "markdown"]
    for name, text in EXPECTED.items():
        assert exporters.export(name, ROWS) == text


def test_registries_are_independent():
    first = new_registry()
    second = new_registry()
    first.register("upper", lambda rows: str(rows).upper())
    assert first.names() == ["upper"]
    assert second.names() == []
    assert "upper" not in exporters.names()
    with pytest.raises(KeyError):
        second.get("upper")


def test_register_builtins_on_new_registry():
    builtin = importlib.import_module("exporters.builtin")
    registry = new_registry()
    builtin.register_builtins(registry)
    assert registry.names() == ["csv", "json", "markdown"]
    assert registry.export("markdown", ROWS) == EXPECTED["markdown"]


def test_registry_decorator_and_direct_forms():
    registry = new_registry()

    @registry.register("count")
    def count(rows):
        return str(len(rows))

    def first_name(rows):
        return rows[0]["name"]

    assert registry.register("first", first_name) is first_name
    assert count(ROWS) == "2"
    assert registry.export("count", ROWS) == "2"
    assert registry.export("first", ROWS) == "ada"


def test_duplicate_and_unknown_names():
    registry = new_registry()
    registry.register("tsv", lambda rows: "")
    with pytest.raises(ValueError):
        registry.register("tsv", lambda rows: "other")
    with pytest.raises(KeyError, match="tsv"):
        registry.get("yaml")
    with pytest.raises(KeyError):
        registry.unregister("yaml")
    registry.unregister("tsv")
    assert registry.names() == []


def test_module_functions_use_default_registry():
    default = exporters.registry.default_registry
    assert isinstance(default, exporters.registry.Registry)
    exporters.register("lines", lambda rows: "\n".join(map(str, rows)))
    try:
        assert "lines" in default.names()
        assert exporters.get("lines") is default.get("lines")
    finally:
        exporters.unregister("lines")
    assert "lines" not in default.names()
    assert exporters.names() == ["csv", "json", "markdown"]


def test_no_module_level_exporter_dict():
    module_state = [
        name
        for name, value in vars(exporters.registry).items()
        if isinstance(value, dict) and not name.startswith("__")
    ]
    assert module_state == []


def test_unknown_format_message_lists_known():
    with pytest.raises(KeyError, match="csv, json, markdown"):
        exporters.export("yaml", ROWS)
