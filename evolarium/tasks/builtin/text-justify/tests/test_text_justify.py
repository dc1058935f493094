import pytest

import textfmt.wrap


def test_inner_lines_have_exact_width():
    text = "justified text spreads the spare spaces between the words of every line"
    lines = textfmt.wrap.justify(text, 20)
    wrapped = textfmt.wrap.wrap(text, 20)
    assert len(lines) == len(wrapped)
    assert lines[-1] == wrapped[-1]
    for line in lines[:-1]:
        assert len(line) == 20


def test_extra_spaces_go_to_leftmost_gaps():
    assert textfmt.wrap.justify("a b c d eeeeeeeeee", 9) == ["a  b  c d", "eeeeeeeeee"]
    assert textfmt.wrap.justify("ab cd ef gh ij", 12) == ["ab  cd ef gh", "ij"]


def test_single_word_line_padded_right():
    assert textfmt.wrap.justify("elephant ox cat", 9) == ["elephant ", "ox cat"]


def test_word_longer_than_width_kept_whole():
    assert textfmt.wrap.justify("hippopotamus is big", 6) == ["hippopotamus", "is big"]


def test_paragraphs_justified_separately():
    text = "one two three four\n\nfive six seven"
    assert textfmt.wrap.justify(text, 9) == [
        "one   two",
        "three    ",
        "four",
        "",
        "five  six",
        "seven",
    ]


def test_empty_text():
    assert textfmt.wrap.justify("", 10) == []
    assert textfmt.wrap.justify("  \n\n ", 10) == []


def test_text_that_fits_one_line_unchanged():
    assert textfmt.wrap.justify("short   line", 40) == ["short line"]


@pytest.mark.parametrize("width", [0, -3])
def test_invalid_width_rejected(width):
    with pytest.raises(ValueError):
        textfmt.wrap.justify("some words", width)
