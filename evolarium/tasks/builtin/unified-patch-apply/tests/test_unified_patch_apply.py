import importlib

import pytest

from textpatch.unified import unified_diff

PAIRS = [
    ("alpha\nbeta\ngamma\n", "alpha\nBETA\ngamma\n"),
    ("", "first\nsecond\n"),
    ("first\nsecond\n", ""),
    ("x\ny", "x\ny\n"),
    ("x\ny\n", "x\nz"),
    ("".join(f"line {n}\n" for n in range(30)), "".join(f"line {n}\n" for n in range(30) if n % 7)),
    ("a\nb\nc\nd\ne\nf\ng\nh\n", "start\na\nb\nC\nd\ne\nf\ng\nh\nend\n"),
    ("same\n", "same\n"),
]

BASE = "".join(f"row {n}\n" for n in range(1, 13))


def patch_module():
    return importlib.import_module("textpatch.apply")


def apply_patch(text, patch):
    return patch_module().apply_patch(text, patch)


def patch_error():
    return patch_module().PatchError


@pytest.mark.parametrize("context", [0, 1, 3])
def test_round_trip(context):
    for old, new in PAIRS:
        patch = unified_diff(old, new, context=context)
        assert apply_patch(old, patch) == new, (old, new)


def test_several_hunks():
    patch = (
        "--- a/rows.txt\n+++ b/rows.txt\n"
        "@@ -2,3 +2,3 @@\n row 2\n-row 3\n+row three\n row 4\n"
        "@@ -9,3 +9,4 @@\n row 9\n row 10\n+row 10.5\n row 11\n"
    )
    expected = BASE.replace("row 3\n", "row three\n").replace("row 11\n", "row 10.5\nrow 11\n")
    assert apply_patch(BASE, patch) == expected


def test_hunk_found_at_offset():
    patch = unified_diff(BASE, BASE.replace("row 6\n", "row six\n"), context=2)
    shifted = "new 1\nnew 2\nnew 3\n" + BASE
    assert apply_patch(shifted, patch) == shifted.replace("row 6\n", "row six\n")
    trimmed = BASE.replace("row 1\nrow 2\n", "")
    assert apply_patch(trimmed, patch) == trimmed.replace("row 6\n", "row six\n")


def test_mismatched_patch_rejected():
    patch = unified_diff(BASE, BASE.replace("row 6\n", "row six\n"), context=2)
    with pytest.raises(patch_error()):
        apply_patch(BASE.replace("row 5\n", "row five\n"), patch)
    with pytest.raises(patch_error()):
        apply_patch(BASE.replace("row 6\n", "row 6!\n"), patch)


def test_short_hunk_and_bad_lines_rejected():
    with pytest.raises(patch_error()):
        apply_patch(BASE, "@@ -1,3 +1,3 @@\n row 1\n-row 2\n+row two\n")
    with pytest.raises(patch_error()):
        apply_patch(BASE, "@@ -1,2 +1,2 @@\n row 1\n*row 2\n+row two\n")
    assert issubclass(patch_error(), ValueError)


def test_counts_may_be_omitted():
    assert apply_patch("one\ntwo\n", "@@ -2 +2 @@\n-two\n+TWO\n") == "one\nTWO\n"


def test_no_newline_marker():
    patch = "@@ -1,2 +1,2 @@\n keep\n-last\n+last\n\\ No newline at end of file\n"
    assert apply_patch("keep\nlast\n", patch) == "keep\nlast"
    patch = "@@ -1 +1 @@\n-only\n\\ No newline at end of file\n+only\n"
    assert apply_patch("only", patch) == "only\n"


def test_text_outside_hunks_ignored():
    patch = (
        "Fix the greeting.\n\ndiff --git a/hello.txt b/hello.txt\n"
        "--- a/hello.txt\n+++ b/hello.txt\n@@ -1 +1 @@\n-hello\n+hello, world\n"
    )
    assert apply_patch("hello\n", patch) == "hello, world\n"
    assert apply_patch("unchanged\n", "") == "unchanged\n"


def test_blank_context_line_without_space():
    patch = "@@ -1,3 +1,3 @@\n top\n\n-bottom\n+BOTTOM\n"
    assert apply_patch("top\n\nbottom\n", patch) == "top\n\nBOTTOM\n"
