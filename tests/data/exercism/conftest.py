"""Keep pytest from collecting the sample exercises' own test files as project tests.

tests/test_exercism.py loads these exercises as a suite and scores one of them
in the sandbox.
"""

collect_ignore_glob = ["*/*_test.py", "*/.meta/*"]
