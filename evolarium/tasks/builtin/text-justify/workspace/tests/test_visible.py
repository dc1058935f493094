from textfmt.wrap import justify, wrap


def test_wrap_left_aligned():
    assert wrap("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]


def test_justify_pads_inner_lines():
    assert justify("the quick brown fox jumps", 10) == ["the  quick", "brown  fox", "jumps"]


def test_justify_last_line_not_stretched():
    lines = justify("a bb ccc dddd", 9)
    assert lines == ["a  bb ccc", "dddd"]
