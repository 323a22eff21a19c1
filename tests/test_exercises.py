"""Every exercise check is honest: it accepts the reference solution, says "not done yet" to the
stub, and rejects the seed's naive code and typical wrong answers at the case meant to catch them."""

import nbformat
import pytest

from exercise_answers import WRONG

from whatsapp_cache.config import DATABASE_URL_ENV, REDIS_URL_ENV
from whatsapp_cache.course.chapters import notebooks_dir
from whatsapp_cache.course.exercises import check, exercises

EXERCISES = exercises()
SOLUTIONS = notebooks_dir() / "solutions"


def _references() -> dict:
    """The functions defined by every solutions notebook's cells tagged 'solution'."""
    found: dict = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "solution" in cell.metadata.get("tags", []):
                exec(compile(cell.source, f"{path.name}:solution", "exec"), found)
    return found


REFERENCES = _references()


def test_every_exercise_has_a_reference_solution_and_wrong_answers():
    keys = [e.key for e in EXERCISES]
    assert [key for key in keys if key not in REFERENCES] == []
    assert [key for key in keys if len(WRONG.get(key, [])) < 2] == [], "each check is shown two wrong answers"


@pytest.fixture
def course_backends(backend, monkeypatch):
    """The backends a learner's checks run on: embedded unless the live URLs are set, as here."""
    for name, url in ((REDIS_URL_ENV, backend.redis_url), (DATABASE_URL_ENV, backend.database_url)):
        if url is not None:
            monkeypatch.setenv(name, url)
    return backend


@pytest.mark.parametrize("key", [e.key for e in EXERCISES])
def test_the_reference_solution_passes_on_every_backend(course_backends, key):
    verdict = check(REFERENCES[key], key)
    assert verdict.passed, repr(verdict)


@pytest.mark.parametrize("key", [e.key for e in EXERCISES])
def test_a_stub_is_not_done_yet(key):
    def stub(*args, **kwargs):
        raise NotImplementedError("complete this")

    verdict = check(stub, key)
    assert verdict.not_done and not verdict.passed and "Not done yet" in repr(verdict)


@pytest.mark.parametrize("key, label, wrong, caught_by",
                         [(key, label, wrong, caught_by) for key, answers in WRONG.items()
                          for label, wrong, caught_by in answers],
                         ids=lambda value: value if isinstance(value, str) else "")
def test_a_wrong_answer_is_rejected_by_the_case_meant_for_it(key, label, wrong, caught_by):
    verdict = check(wrong, key)
    assert not verdict.passed and not verdict.not_done, f"{label} passed: {verdict!r}"
    assert verdict.failed_case.describe.startswith(caught_by), repr(verdict)
    assert "Traceback" not in repr(verdict)


# Chapters 06-08 ---------------------------------------------------------------------------------

@pytest.mark.live
def test_on_a_real_cluster_the_script_case_is_refused_for_the_seeds_untagged_keys(cluster_url, monkeypatch):
    """Chapter 08's last case runs the script on the course's Redis: on a cluster, keys of three slots fail there
    too (the slot case catches them first in a check; this shows the cluster itself agrees)."""
    import redis

    from wrong_ch08 import seed_keys

    from whatsapp_cache.course.exercises import Bench, ch08

    monkeypatch.setenv(REDIS_URL_ENV, cluster_url)
    bench = Bench()
    try:
        with pytest.raises((redis.exceptions.RedisClusterException, redis.exceptions.ClusterCrossSlotError)):
            ch08._one_script_on_redis(seed_keys, bench)
        ch08._one_script_on_redis(REFERENCES["profile_keys"], bench)
    finally:
        bench.close()
