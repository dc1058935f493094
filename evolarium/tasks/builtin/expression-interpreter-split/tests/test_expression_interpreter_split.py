import importlib

import pytest

from mathexpr import engine

RESULTS = {
    "1 + 2 * 3": 7,
    "-2^2": -4,
    "2^3^2": 512,
    "2^-1": 0.5,
    "7 % 3": 1,
    "(1+2)*3": 9,
    "max(1, 2+3, 4)": 5,
    "min(4, -1.5)": -1.5,
    "round(2.567, 2)": 2.57,
    "sqrt(16) + abs(-3)": 7.0,
    "10 / 4": 2.5,
    "1.5 + .5": 2.0,
    "--3": 3,
    "+4 - -1": 5,
}

ERRORS = {
    "2 +": "unexpected end of expression",
    "2 + * 3": "unexpected '*' at position 4",
    "3 4": "unexpected '4' at position 2",
    "1 + 2 = 3": "unexpected '=' at position 6",
    "1/0": "division by zero",
    "5 % 0": "division by zero",
    "0^-1": "division by zero",
    "nope + 1": "unknown variable 'nope'",
    "foo(1)": "unknown function 'foo'",
    "sqrt(1, 2)": "sqrt expects 1 argument, got 2",
}


def module(name):
    return importlib.import_module(f"mathexpr.{name}")


def test_tokenize_kinds_and_positions():
    tokens = module("lexer").tokenize("x = 2*(y+1)")
    assert [(token.kind, token.text, token.position) for token in tokens] == [
        ("name", "x", 0),
        ("symbol", "=", 2),
        ("number", "2", 4),
        ("symbol", "*", 5),
        ("symbol", "(", 6),
        ("name", "y", 7),
        ("symbol", "+", 8),
        ("number", "1", 9),
        ("symbol", ")", 10),
        ("end", "", 11),
    ]


def test_parse_builds_tree():
    nodes = module("nodes")
    tree = module("parser").parse("-2^2 + f(1, x) * 3.5")
    expected = nodes.Binary(
        "+",
        nodes.Unary("-", nodes.Binary("^", nodes.Number(2), nodes.Number(2))),
        nodes.Binary(
            "*",
            nodes.Call("f", (nodes.Number(1), nodes.Variable("x"))),
            nodes.Number(3.5),
        ),
    )
    assert tree == expected


def test_parse_does_not_evaluate():
    nodes = module("nodes")
    parse = module("parser").parse
    assert parse("1/0") == nodes.Binary("/", nodes.Number(1), nodes.Number(0))
    assert parse("x = foo(y)") == nodes.Assign("x", nodes.Call("foo", (nodes.Variable("y"),)))


def test_parse_errors_use_shared_error_type():
    errors = module("errors")
    assert engine.ExpressionError is errors.ExpressionError
    assert issubclass(errors.ExpressionError, ValueError)
    with pytest.raises(errors.ExpressionError, match=r"unexpected '\*' at position 4"):
        module("parser").parse("2 + * 3")


def test_interpreters_have_own_variables():
    interpreter_module = module("interpreter")
    first = interpreter_module.Interpreter()
    seed = {"y": 3}
    second = interpreter_module.Interpreter(seed)
    assert first.evaluate("x = 2") == 2
    assert second.evaluate("x = y * 10") == 30
    assert first.variables == {"x": 2}
    assert seed == {"y": 3}
    with pytest.raises(engine.ExpressionError, match="unknown variable 'y'"):
        first.evaluate("y")
    engine.clear_variables()
    with pytest.raises(engine.ExpressionError):
        engine.evaluate("x")


def test_evaluate_node_on_parsed_tree():
    interpreter = module("interpreter").Interpreter({"base": 2})
    tree = module("parser").parse("base^3^2")
    assert interpreter.evaluate_node(tree) == 512


def test_engine_functions_share_default_interpreter():
    engine.clear_variables()
    engine.set_variable("rate", 2)
    assert engine.evaluate("rate * 21") == 42
    assert engine.evaluate("total = rate + 1") == 3
    assert engine.evaluate("total * 2") == 6
    assert engine.default_interpreter.variables == {"rate": 2, "total": 3}
    engine.clear_variables()
    with pytest.raises(engine.ExpressionError, match="unknown variable 'rate'"):
        engine.evaluate("rate")


def test_results_unchanged():
    engine.clear_variables()
    for text, value in RESULTS.items():
        result = engine.evaluate(text)
        assert result == value, text
        assert type(result) is type(value), text


def test_error_messages_unchanged():
    engine.clear_variables()
    for text, message in ERRORS.items():
        with pytest.raises(engine.ExpressionError) as caught:
            engine.evaluate(text)
        assert str(caught.value) == message, text


def test_engine_keeps_no_module_level_variables():
    state = [
        name
        for name, value in vars(engine).items()
        if isinstance(value, dict) and not name.startswith("__")
    ]
    assert state == []
