"""Sessions: keyed by the token's SHA-256, never by the token; logout revokes at once."""

import logging

import pytest

from support import DAY, SECOND, counts, dump_keyspace

from whatsapp_cache import InvalidInput, NotFound
from whatsapp_cache.datatypes import SecretToken, Session
from whatsapp_cache.keys import token_digest

USER = "u000003"


def test_login_writes_through_so_the_first_check_is_a_hit(world):
    token = world.sessions.login(USER, device="web")
    world.metrics.reset()
    session = world.sessions.authenticate(token)
    assert (session.user_id, session.device) == (USER, "web")
    c = counts(world, "sessions")
    assert (c.hits, c.misses, c.db_queries, c.round_trips) == (1, 0, 0, 1)


def test_data_set_session_is_read_through_once(world):
    token = world.dataset.session_token(USER)
    assert world.sessions.authenticate(token).user_id == USER
    assert world.sessions.authenticate(token).user_id == USER
    c = counts(world, "sessions")
    assert (c.misses, c.hits, c.db_queries) == (1, 1, 1)


def test_plain_string_token_works_like_a_secret_token(world):
    token = world.sessions.login(USER)
    assert world.sessions.authenticate(token.reveal()) == world.sessions.authenticate(token)


def test_unknown_token_is_negatively_cached(world):
    for _ in range(3):
        assert world.sessions.authenticate("not-a-real-token-0123456789") is None
    c = counts(world, "sessions")
    assert (c.db_queries, c.misses, c.hits) == (1, 1, 2)


def test_logout_revokes_even_after_a_cached_hit(world):
    token = world.sessions.login(USER)
    assert world.sessions.authenticate(token) is not None  # served from the cache
    assert world.sessions.logout(token) is True
    assert world.sessions.authenticate(token) is None
    assert world.sessions.logout(token) is False


def test_logout_of_a_data_set_session_revokes_its_cached_copy(world):
    token = world.dataset.session_token(USER)
    world.sessions.authenticate(token)
    world.sessions.logout(token)
    assert world.sessions.authenticate(token) is None
    assert world.repo.session(token_digest(token)) is None


def test_cache_entry_expires_after_its_ttl_and_is_read_again(world):
    world.ttls = world.ttls.with_(sessions=60)
    token = world.dataset.session_token(USER)
    world.sessions.authenticate(token)
    world.clock.advance(60 * SECOND)
    assert world.sessions.authenticate(token).user_id == USER
    assert counts(world, "sessions").misses == 2


def test_a_cached_session_never_outlives_the_session(world):
    """Cache TTL 60 d, session has 29 d left: the cached copy expires with the session."""
    world.ttls = world.ttls.with_(sessions=60 * 24 * 3600)
    token = world.dataset.session_token(USER)
    session = world.sessions.authenticate(token)
    left = session.expires_ms - world.clock.now_ms()
    assert 0 < left < 60 * DAY
    world.clock.advance(left - 1)
    assert world.sessions.authenticate(token) is not None
    world.clock.advance(1)
    assert world.sessions.authenticate(token) is None


def test_expired_session_stays_rejected(world):
    token = world.sessions.login(USER)
    world.clock.advance(31 * DAY)
    assert world.sessions.authenticate(token) is None
    assert world.sessions.authenticate(token) is None


def test_login_of_an_unknown_user_is_not_found_and_stores_nothing(world):
    before = world.repo.row_counts()["sessions"]
    with pytest.raises(NotFound):
        world.sessions.login("nobody")
    assert world.repo.row_counts()["sessions"] == before


def test_raw_token_is_in_no_redis_key_nor_value(world):
    tokens = [world.sessions.login(f"u00000{i}") for i in range(5)]
    world.sessions.authenticate(tokens[0])
    world.sessions.logout(tokens[1])
    raw = [world.dataset.session_token(f"u0000{i}") for i in range(10, 15)]
    for token in raw:
        world.sessions.authenticate(token)
    world.sessions.authenticate("an-unknown-token-of-some-length")
    secrets = [t.reveal() for t in tokens] + raw + ["an-unknown-token-of-some-length"]
    dump = dump_keyspace(world.redis)
    assert any(token_digest(raw[0]) in key for key in dump), "the digest names the entry"
    text = repr(dump)
    assert [s for s in secrets if s in text] == []


def test_database_stores_digests_only(world):
    token = world.sessions.login(USER)
    with world.repo.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM sessions").all()
    assert token.reveal() not in repr(rows)
    assert world.repo.session(token_digest(token.reveal()))["user_id"] == USER


def test_secret_token_never_prints_itself(world):
    token = world.sessions.login(USER)
    raw = token.reveal()
    shown = [repr(token), str(token), f"{token}", "%s" % token, "{}".format(token), repr([token])]
    assert [s for s in shown if raw in s] == []
    assert "***" in repr(token)


def test_session_holds_no_token(world):
    token = world.sessions.login(USER)
    session = world.sessions.authenticate(token)
    assert isinstance(session, Session)
    assert token.reveal() not in repr(session)


def test_no_token_in_the_library_logs(world, caplog):
    with caplog.at_level(logging.DEBUG):
        token = world.sessions.login(USER)
        world.sessions.authenticate(token)
        world.sessions.logout(token)
        world.sessions.authenticate(token)
    assert token.reveal() not in caplog.text


def test_secret_tokens_compare_by_value(world):
    token = world.sessions.login(USER)
    assert token == SecretToken(token.reveal()) and hash(token) == hash(SecretToken(token.reveal()))
    assert token != token.reveal()


def test_short_token_is_invalid_input_without_echoing_it(world):
    with pytest.raises(InvalidInput) as info:
        world.sessions.authenticate("short-secret")
    assert "short-secret" not in str(info.value)
