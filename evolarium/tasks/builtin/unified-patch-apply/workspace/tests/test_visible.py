from textpatch.apply import apply_patch
from textpatch.unified import unified_diff

OLD = "alpha\nbeta\ngamma\ndelta\n"
NEW = "alpha\nBETA\ngamma\ndelta\nepsilon\n"


def test_diff_output():
    assert unified_diff(OLD, NEW) == (
        "--- a\n+++ b\n@@ -1,4 +1,5 @@\n alpha\n-beta\n+BETA\n gamma\n delta\n+epsilon\n"
    )


def test_apply_single_hunk():
    assert apply_patch(OLD, unified_diff(OLD, NEW)) == NEW
