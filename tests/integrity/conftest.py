"""Fixtures of the scoring-integrity tests: a run with its archive and gateway, and a task.

The gateway points at the loopback fake provider, which has no scripted replies, because
the agents here write files and exit without calling the model. The module's teardown
checks that no request reached the provider. It also closes the run's warm scoring
containers and checks that none of the run's containers is left.
"""

import pytest

from evolarium.tasks.task import Task
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider
from tests.integrity.attacks import (
    BUGGY_STATS,
    FIXED_STATS,
    HIDDEN_TEST_COUNT,
    HIDDEN_TESTS,
    VISIBLE_TEST,
)
from tests.integrity.lab import Lab, write_task


@pytest.fixture(scope="module")
def fake_provider():
    with FakeProvider() as fake:
        yield fake


@pytest.fixture(scope="module")
def lab(docker_client, sandbox_image, tmp_path_factory, fake_provider):
    run = Lab(docker_client, sandbox_image, tmp_path_factory.mktemp("lab"), fake_provider.url)
    yield run

    run.close()
    assert fake_provider.requests == [], "an agent called the model"
    assert evolarium_containers(docker_client, run.run_id) == []


@pytest.fixture(scope="module")
def stats_task(tmp_path_factory) -> Task:
    """The stats task: its start fails every hidden test and its reference passes them all."""
    return write_task(
        tmp_path_factory.mktemp("tasks") / "stats-mean",
        workspace={"stats.py": BUGGY_STATS, "tests/test_visible.py": VISIBLE_TEST},
        tests=HIDDEN_TESTS,
        reference={"stats.py": FIXED_STATS},
        expected_tests=HIDDEN_TEST_COUNT,
    )
