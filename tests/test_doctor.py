"""`course doctor` says what a room has and lacks for the course, and how to get what is missing."""

import sys

import pytest

from whatsapp_cache import cli
from whatsapp_cache.course import doctor


def test_this_machine_has_everything_every_chapter_needs(capsys):
    assert cli.main(["course", "doctor"]) == 0
    out = capsys.readouterr().out
    for name in ("Python", "package jupyterlab", "widgets front end", "Python kernel", "redis-server"):
        assert any(line.startswith(name) and " ok " in line for line in out.splitlines()), name
    assert "ready for every chapter" in out


def test_a_missing_program_is_named_with_its_fix(monkeypatch):
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    check = doctor.program("memcached", "the primer", "apt-get install memcached")
    assert not check.ok and not check.required
    assert "apt-get install memcached" in doctor.report([check])


def test_a_missing_widgets_front_end_fails_the_doctor(tmp_path, monkeypatch, capsys):
    real = doctor.widgets_front_end
    monkeypatch.setattr(doctor, "widgets_front_end", lambda: real(prefix=tmp_path))
    assert cli.main(["course", "doctor"]) == 2
    captured = capsys.readouterr()
    assert "widgets front end" in captured.out and "MISSING" in captured.out
    assert "required checks" in captured.err


def test_an_old_python_is_refused(monkeypatch):
    monkeypatch.setattr(doctor, "MIN_PYTHON", (sys.version_info[0], sys.version_info[1] + 1))
    assert not doctor.python_version().ok


def test_a_live_url_that_does_not_answer_is_reported_masked(monkeypatch):
    monkeypatch.setenv(doctor.REDIS_URL_ENV, "redis://:s3cret-sentinel@127.0.0.1:1/0")
    check = doctor.live_url(doctor.REDIS_URL_ENV, doctor._ping_redis)
    assert not check.ok and "s3cret-sentinel" not in check.detail + check.fix
    assert "127.0.0.1:1" in check.detail


@pytest.mark.live
def test_live_urls_that_answer_are_reported(monkeypatch, live_redis_url, live_database_url):
    monkeypatch.setenv(doctor.REDIS_URL_ENV, live_redis_url)
    monkeypatch.setenv(doctor.DATABASE_URL_ENV, live_database_url)
    found = {check.name: check for check in doctor.checks()}
    assert found[doctor.REDIS_URL_ENV].ok and found[doctor.DATABASE_URL_ENV].ok
