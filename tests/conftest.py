"""Backends for every test: embedded (fakeredis + SQLite), live (Redis + PostgreSQL), cluster.

Live tests skip when the services are down, except when WHATSAPP_CACHE_REQUIRE_LIVE=1
(set by .ci/run): then a skipped live test is reported as a failure.

The cluster backend is a local Redis Cluster (3 masters, 1 replica each: real redis-server
processes, started on first use and stopped at the end of the session) with SQLite in memory.
Every test of the `backend` fixture runs on it too (marked live, like the live backend), except
a test marked @pytest.mark.no_cluster("why"): that one is not generated for the cluster at all,
so it is neither run nor skipped (and WHATSAPP_CACHE_REQUIRE_LIVE=1 has nothing to fail).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import redis
import sqlalchemy as sa
from hypothesis import settings

from whatsapp_cache import World
from whatsapp_cache.config import DATABASE_URL_ENV, REDIS_URL_ENV
from whatsapp_cache.errors import ConfigError
from whatsapp_cache.lab.cluster import LocalCluster

# Property tests draw the same examples on every run (a CI run is repeatable); set
# HYPOTHESIS_PROFILE=default locally to let them explore new ones.
settings.register_profile("repeatable", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REQUIRE_LIVE = os.environ.get("WHATSAPP_CACHE_REQUIRE_LIVE") == "1"
TEST_REDIS_URL = os.environ.get("WHATSAPP_CACHE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_SERVER_URL = os.environ.get("WHATSAPP_CACHE_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
TEST_DATABASE = f"whatsapp_cache_test_{os.getpid()}"  # concurrent runs do not collide


@dataclass(frozen=True)
class Backend:
    name: str
    redis_url: str | None
    database_url: str | None


def _unavailable(what: str, exc: Exception):
    message = f"live {what} unavailable: {type(exc).__name__}: {exc}"
    if REQUIRE_LIVE:
        pytest.fail(message + " (WHATSAPP_CACHE_REQUIRE_LIVE=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def live_redis_url():
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def live_database_url():
    server = sa.create_engine(f"{PG_SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{TEST_DATABASE}"')
    except sa.exc.OperationalError as exc:
        server.dispose()
        _unavailable("PostgreSQL", exc)
    yield f"{PG_SERVER_URL}/{TEST_DATABASE}"
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
    server.dispose()


@pytest.fixture(scope="session")
def icu_database_url(live_database_url):
    """A database whose default collation is ICU en-US ("alice" < "Bob" < "carol"), dropped at the end."""
    name = f"{TEST_DATABASE}_icu"
    server = sa.create_engine(f"{PG_SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu "
                                 "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    except sa.exc.DBAPIError as exc:
        server.dispose()
        _unavailable("PostgreSQL with ICU collations (15 or newer)", exc)
    yield f"{PG_SERVER_URL}/{name}"
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server.dispose()


@pytest.fixture(autouse=True)
def _no_backend_environment(monkeypatch):
    """Tests choose their backends explicitly; a developer's environment must not leak in."""
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


@pytest.fixture(scope="session")
def cluster_lab():
    """A local Redis Cluster for the whole session, and a client of it for the tests' own clean-up."""
    lab = LocalCluster(masters=3, replicas_per_master=1)
    try:
        lab.start()
    except (ConfigError, OSError) as exc:
        lab.stop()
        _unavailable("Redis Cluster (redis-server processes)", exc)
    client = redis.RedisCluster.from_url(lab.url)
    yield lab, client
    client.close()
    lab.stop()


@pytest.fixture
def cluster_url(cluster_lab):
    """The cluster as a World's URL; every key of every master is dropped after the test."""
    lab, client = cluster_lab
    yield lab.url + "?cluster=true"
    client.flushall(target_nodes=redis.RedisCluster.PRIMARIES)  # make_world empties only its namespace


BACKENDS = ["embedded", pytest.param("live", marks=pytest.mark.live)]
CLUSTER = pytest.param("cluster", marks=pytest.mark.live)


def pytest_generate_tests(metafunc):
    """`backend`: embedded, live and cluster; no cluster for a test marked no_cluster."""
    if "backend" not in metafunc.fixturenames or _parametrizes_backend(metafunc.definition):
        return
    on_cluster = metafunc.definition.get_closest_marker("no_cluster") is None
    metafunc.parametrize("backend", BACKENDS + [CLUSTER] * on_cluster, indirect=True)


def _parametrizes_backend(definition) -> bool:
    return any("backend" in _argnames(marker) for marker in definition.iter_markers("parametrize"))


def _argnames(marker) -> list[str]:
    names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
    return [name.strip() for name in names.split(",")] if isinstance(names, str) else list(names)


@pytest.fixture
def backend(request) -> Backend:
    if request.param == "embedded":
        return Backend("embedded", None, None)
    if request.param == "cluster":
        return Backend("cluster", request.getfixturevalue("cluster_url"), None)
    return Backend("live", request.getfixturevalue("live_redis_url"), request.getfixturevalue("live_database_url"))


@pytest.fixture
def make_world(backend):
    """Build Worlds on this test's backend (or another database); each is emptied (cache and schema) afterwards."""
    worlds = []

    def build(database_url: str | None = None, **options) -> World:
        options.setdefault("dataset", "tiny")
        world = World(backend.redis_url, database_url or backend.database_url, **options)
        worlds.append(world)
        return world

    yield build
    for world in worlds:
        world.flush_cache(keep_queue=False)
        world.repo.drop_schema()
        world.close()


@pytest.fixture
def world(make_world) -> World:
    return make_world()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With live runs required, a skipped live test counts as a failure."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_LIVE and report.skipped and item.get_closest_marker("live"):
        report.outcome = "failed"
        report.longrepr = f"live test skipped but WHATSAPP_CACHE_REQUIRE_LIVE=1: {report.longrepr}"


def pytest_addoption(parser, pluginmanager):
    """pyproject's addopts pass nbval's options; accept them inertly when run with -p no:nbval."""
    if pluginmanager.has_plugin("nbval"):
        return
    group = parser.getgroup("nbval (disabled)")
    group.addoption("--nbval", action="store_true", help="(nbval is disabled: ignored)")
    group.addoption("--nbval-current-env", action="store_true", help="(nbval is disabled: ignored)")
    group.addoption("--nbval-sanitize-with", action="store", help="(nbval is disabled: ignored)")


FIGURES: list[str] = []


@pytest.fixture
def figures():
    """Report a measured figure: printed in a section of its own at the end of the run, even in CI."""
    return FIGURES.append


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("figures measured by the tests")
        for line in FIGURES:
            terminalreporter.write_line(line)
