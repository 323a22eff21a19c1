"""Configuration (URLs, masking, environment), the payload codec and the key schema."""

import hashlib
import json
import logging
import re

import fakeredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whatsapp_cache import ConfigError, InvalidInput, World
from whatsapp_cache.codec import (META_FIELD, CorruptEntry, Meta, decode_fields, decode_message, decode_meta, loads_value,
                                  encode_fields, encode_message, encode_meta, hash_items, is_meta)
from whatsapp_cache.backends import make_redis
from whatsapp_cache.config import DATABASE_URL_ENV, REDIS_URL_ENV, BackendConfig, mask_url
from whatsapp_cache.keys import KeySchema, token_digest
from whatsapp_cache.lab.process import free_port

PROPERTY = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


# mask_url ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, masked", [
    ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://user:s3cret@host:6379/0", "redis://user:***@host:6379/0"),
    ("redis://s3cret@host", "redis://***@host"),
    ("rediss://default:s3cret@cache.example.com:6380", "rediss://default:***@cache.example.com:6380"),
    ("unix://:s3cret@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
    ("postgresql://postgres:s3cret@127.0.0.1:5432/db", "postgresql://postgres:***@127.0.0.1:5432/db"),
    ("postgresql+psycopg://app:s3cret@db.example.com/whatsapp?sslmode=require",
     "postgresql+psycopg://app:***@db.example.com/whatsapp?sslmode=require"),
    ("redis://:s3c@ret@host", "redis://:***@host"),
    ("redis://:s3c/ret@host:6379", "redis://:***@host:6379"),
    ("redis://:s3c#ret@host", "redis://:***@host"),
    ("postgresql://u:s3c?ret@host/db", "postgresql://u:***@host/db"),
])
def test_mask_url_hides_the_password(url, masked):
    assert mask_url(url) == masked


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "postgresql://postgres@127.0.0.1/db",
                                 "postgresql+psycopg://postgres@127.0.0.1:5432/whatsapp", "sqlite://"])
def test_mask_url_leaves_urls_without_a_password_alone(url):
    assert mask_url(url) == url


def test_mask_url_of_nothing_or_not_a_url():
    assert mask_url(None) == "embedded"
    assert "s3cret" not in mask_url("user:s3cret@host")
    assert "s3cret" not in mask_url(b"redis://:s3cret@h")


@settings(max_examples=100, deadline=None, database=None)
@given(password=st.text(min_size=1, max_size=30), scheme=st.sampled_from(["redis", "rediss", "postgresql",
                                                                          "postgresql+psycopg"]))
def test_mask_url_hides_any_password_whatever_its_characters(password, scheme):
    assert mask_url(f"{scheme}://user:{password}@host:5432/x") == f"{scheme}://user:***@host:5432/x"


def test_backend_config_repr_and_labels_hide_passwords():
    config = BackendConfig.resolve("redis://default:s3cret@h:6379/0", "postgresql://u:s3cret@h/db")
    shown = [repr(config), str(config), config.redis_label, config.database_label]
    assert [s for s in shown if "s3cret" in s] == []
    assert config.redis_url.endswith("s3cret@h:6379/0")  # the real URL is kept for connecting


def test_embedded_world_says_so_in_its_repr():
    with World(dataset=None) as world:
        assert repr(world).startswith("World(redis='fakeredis (in process)', database='SQLite (in memory)'")


@pytest.mark.live
def test_live_world_repr_hides_both_passwords(live_redis_url, live_database_url):
    """Redis' passwordless default user and trust auth accept any password, so these URLs connect."""
    redis_url = live_redis_url.replace("redis://", "redis://default:s3cret@")
    database_url = live_database_url.replace("postgres@", "postgres:s3cret@")
    assert "s3cret" in redis_url and "s3cret" in database_url
    world = World(redis_url, database_url, dataset=None)
    try:
        shown = [repr(world), str(world), repr(world.config), repr(world.engine), repr(world.engine.url),
                 repr(world.redis)]
        assert [s for s in shown if "s3cret" in s] == []
        assert "***" in repr(world)
    finally:
        world.repo.drop_schema()
        world.close()



@pytest.mark.parametrize("url, masked", [
    ("redis://127.0.0.1:6379/0?password=s3cret", "redis://127.0.0.1:6379/0?password=***"),
    ("redis://h:6379/0?socket_timeout=0.1&password=s3cret&cluster=true",  # the other options stay
     "redis://h:6379/0?socket_timeout=0.1&password=***&cluster=true"),
    ("redis://h/0?username=app&password=s3cret&db=1", "redis://h/0?username=app&password=***&db=1"),
    ("rediss://h:6380/0?ssl_password=s3cret", "rediss://h:6380/0?ssl_password=***"),
    ("postgresql+psycopg://postgres@h/db?password=s3cret&sslmode=require&sslpassword=s3cret",
     "postgresql+psycopg://postgres@h/db?password=***&sslmode=require&sslpassword=***"),
    ("postgresql://u@h/db?access_token=s3cret&API_KEY=s3cret", "postgresql://u@h/db?access_token=***&API_KEY=***"),
    ("postgresql://u@h/db?pass%77ord=s3cret", "postgresql://u@h/db?pass%77ord=***"),  # drivers decode the name
    ("postgresql://u@h/db?password=s3c@ret", "postgresql://u@h/db?password=***"),  # an '@' in the value
    ("redis://:s3cret@h/0?password=s3cret", "redis://:***@h/0?password=***"),
    ("redis://:pa&password=s3cret@h", "redis://:***@h"),  # all of it the userinfo's password
])
def test_mask_url_hides_secrets_in_the_query(url, masked):
    assert mask_url(url) == masked
    assert "s3c" not in masked


def test_a_drivers_error_text_is_scrubbed_of_every_secret_of_the_urls():
    """psycopg and SQLAlchemy may echo a DSN; the line shown names the type and hides each secret."""
    from sqlalchemy.exc import OperationalError

    from whatsapp_cache.backends import describe_failure

    config = BackendConfig.resolve("redis://:r3dis@h/0", "postgresql://u:s3cret@h/db?sslpassword=p%40ss")
    echo = OperationalError("connect", {}, Exception("bad dsn 'password=s3cret sslpassword=p@ss' host=h\nmore"))
    text = describe_failure(echo, config)
    assert text == "database at postgresql://u:***@h/db?sslpassword=***: Exception: bad dsn " \
                   "'password=*** sslpassword=***' host=h"
    assert describe_failure(redis.ConnectionError("AUTH r3dis refused"), config) == \
        "Redis at redis://:***@h/0: ConnectionError: AUTH *** refused"


SENTINEL = "Sentinel7pw"  # trust auth and Redis' passwordless default user accept it and ignore it


def sentinel_urls(live_redis_url: str, live_database_url: str) -> tuple[list[str], list[str]]:
    """The live URLs with the sentinel in every place a URL can carry a password."""
    redis_host = live_redis_url.removeprefix("redis://")
    redis_urls = [f"redis://default:{SENTINEL}@{redis_host}", f"redis://:{SENTINEL}@{redis_host}",
                  f"redis://{redis_host}?password={SENTINEL}",
                  f"redis://{redis_host}?username=default&password={SENTINEL}&socket_timeout=2",
                  f"redis://{SENTINEL}@{redis_host}"]  # redis-py: a username, which Redis refuses
    database_urls = [live_database_url.replace("postgres@", f"postgres:{SENTINEL}@"),
                     f"{live_database_url}?password={SENTINEL}",
                     f"{live_database_url}?sslpassword={SENTINEL}&password={SENTINEL}&connect_timeout=5",
                     f"{live_database_url}?password={SENTINEL}%40x"]
    return redis_urls, database_urls


@pytest.mark.live
def test_no_password_of_any_url_form_shows_in_reprs_logs_errors_or_cli_output(
        live_redis_url, live_database_url, caplog, capsys, monkeypatch):
    """The sentinel password, in every URL form on both backends, is seen nowhere."""
    from whatsapp_cache.cli import main

    caplog.set_level(logging.DEBUG)
    redis_urls, database_urls = sentinel_urls(live_redis_url, live_database_url)
    shown = []
    for redis_url, database_url in zip(redis_urls, database_urls + database_urls[:1]):
        assert SENTINEL in redis_url and SENTINEL in database_url
        with World(redis_url, database_url, dataset="tiny") as world:
            config = world.config
            shown += [repr(world), str(world), repr(config), str(config), config.redis_label, config.database_label,
                      repr(world.engine), str(world.engine.url), repr(world.redis)]
            world.profiles.get("u000001")
    refused = f"redis://:{SENTINEL}@127.0.0.1:{free_port()}/0?password={SENTINEL}&socket_connect_timeout=0.2"
    missing = database_urls[1].replace(live_database_url.rpartition("/")[2], "whatsapp_cache_no_such_database")
    unreachable = f"postgresql+psycopg://postgres:{SENTINEL}@127.0.0.1:{free_port()}/db?password={SENTINEL}"
    with World(refused, dataset=None) as world:  # a World starts while Redis is down
        shown.append(repr(world))
    for url in (missing, unreachable):
        with pytest.raises(ConfigError, match="cannot reach database at postgresql") as info:
            World(database_url=url, dataset=None)
        shown.append(str(info.value))
    with pytest.raises(redis.ConnectionError) as info:
        World(refused + "&cluster=true")
    shown.append(str(info.value))

    # every command's error path, and the output of the commands that work
    commands = [["tour", "--size", "tiny", "--actions", "30", "--no-progress", "--redis-url", redis_urls[2],
                 "--database-url", database_urls[2]],
                ["tour", "--size", "tiny", "--actions", "30", "--no-progress", "--json", "--redis-url", redis_urls[0],
                 "--database-url", database_urls[0]],
                ["worker", "--once", "--redis-url", redis_urls[3], "--database-url", database_urls[1]],
                ["tour", "--no-progress", "--redis-url", refused],
                ["tour", "--no-progress", "--database-url", missing],
                ["tour", "--no-progress", "--database-url", unreachable],
                ["worker", "--once", "--redis-url", refused, "--database-url", database_urls[1]],
                ["worker", "--once", "--redis-url", redis_urls[1], "--database-url", missing],
                ["chaos", "--mode", "down", "--no-progress", "--database-url", missing]]
    codes = [main(argv) for argv in commands]
    monkeypatch.setenv(REDIS_URL_ENV, refused)
    monkeypatch.setenv(DATABASE_URL_ENV, database_urls[1])
    codes.append(main(["tour", "--no-progress"]))
    output = capsys.readouterr()
    assert codes == [0, 0, 0, 2, 2, 2, 2, 2, 2, 2]
    assert "Traceback" not in output.err and output.err.count("whatsapp-cache: error:") == 7
    assert "***" in output.out and "***" in output.err
    with World(redis_urls[0], database_urls[0], dataset=None) as world:
        world.flush_cache(keep_queue=False)
        world.repo.drop_schema()

    assert [text for text in shown if SENTINEL in text] == []
    assert SENTINEL not in output.out and SENTINEL not in output.err
    assert SENTINEL not in caplog.text
    assert caplog.text.count("Redis unavailable at start") >= 2  # the logs were captured, and checked


# Redis Cluster --------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, kept, cluster", [
    ("redis://h:7000/0?cluster=true", "redis://h:7000/0", True),
    ("redis://h:7000/0?cluster=TRUE&socket_timeout=0.1", "redis://h:7000/0?socket_timeout=0.1", True),
    ("redis://h:7000?socket_timeout=0.1&cluster=1", "redis://h:7000?socket_timeout=0.1", True),
    ("redis://h:7000/0?cluster=false", "redis://h:7000/0", False),
    ("redis://h:6379/0?socket_timeout=0.1", "redis://h:6379/0?socket_timeout=0.1", False),
    ("redis://:pa?ss&cluster=true@h:7000/0", "redis://:pa?ss&cluster=true@h:7000/0", False),  # a password's text
])
def test_the_cluster_flag_is_taken_out_of_the_url(url, kept, cluster):
    config = BackendConfig.resolve(url)
    assert (config.redis_url, config.redis_cluster) == (kept, cluster)


def test_the_cluster_is_chosen_by_the_environment_or_an_argument(monkeypatch):
    monkeypatch.setenv(REDIS_URL_ENV, "redis://default:s3cret@h:7000/0?cluster=yes")
    config = BackendConfig.resolve()
    assert config.redis_cluster and config.redis_url == "redis://default:s3cret@h:7000/0"
    assert config.redis_label == "redis://default:***@h:7000/0 (cluster)" and "s3cret" not in repr(config)
    assert BackendConfig.resolve("redis://h:7000/0", redis_cluster=True).redis_cluster
    assert not BackendConfig.resolve("redis://h:7000/0?cluster=true", redis_cluster=False).redis_cluster


@pytest.mark.parametrize("url, cluster, complaint", [
    ("redis://:s3cret@h:7000/0?cluster=maybe", None, "cluster= must be true or false"),
    ("unix:///tmp/redis.sock?cluster=true", None, "over TCP only"),
    (None, True, "fakeredis has no cluster mode"),
    ("redis://h:7000/0", "yes", "redis_cluster must be True, False or None"),
])
def test_bad_cluster_settings_are_config_errors(url, cluster, complaint):
    with pytest.raises(ConfigError, match=complaint) as info:
        BackendConfig.resolve(url, redis_cluster=cluster)
    assert "s3cret" not in str(info.value)


def test_a_cluster_url_with_another_database_than_0_is_a_config_error():
    with pytest.raises(ConfigError, match="db.* can only be 0 in cluster mode"):
        make_redis(BackendConfig.resolve("redis://127.0.0.1:1/3?cluster=true"))
    with pytest.raises(ConfigError) as info:
        make_redis(BackendConfig.resolve("redis://:s3cret@127.0.0.1:1/3?cluster=true"))
    assert "s3cret" not in str(info.value)


def test_a_cluster_nobody_answers_is_a_connection_error_without_the_password():
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0?cluster=true&socket_connect_timeout=0.2"
    with pytest.raises(redis.ConnectionError, match="no node of the Redis Cluster") as info:
        make_redis(BackendConfig.resolve(url))
    assert "s3cret" not in str(info.value)


# environment --------------------------------------------------------------------------------------

def test_environment_variables_name_the_backends(monkeypatch):
    monkeypatch.setenv(REDIS_URL_ENV, "redis://cache.example.com:6379/2")
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://app@db.example.com/whatsapp")
    assert BackendConfig.resolve() == BackendConfig("redis://cache.example.com:6379/2",
                                                    "postgresql://app@db.example.com/whatsapp")


def test_arguments_win_over_environment_variables(monkeypatch):
    monkeypatch.setenv(REDIS_URL_ENV, "redis://from-env:6379/0")
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://app@from-env/db")
    config = BackendConfig.resolve("redis://from-argument:6379/0", "sqlite://")
    assert (config.redis_url, config.database_url) == ("redis://from-argument:6379/0", "sqlite://")


def test_without_arguments_or_environment_the_backends_are_embedded(monkeypatch):
    monkeypatch.setenv(REDIS_URL_ENV, "")
    assert BackendConfig.resolve() == BackendConfig(None, None)
    with World(dataset=None) as world:
        assert isinstance(world.redis, fakeredis.FakeRedis)
        assert world.engine.dialect.name == "sqlite"


def test_bad_url_in_the_environment_is_a_config_error(monkeypatch):
    monkeypatch.setenv(REDIS_URL_ENV, "http://:s3cret@cache.example.com")
    with pytest.raises(ConfigError) as info:
        World(dataset=None)
    assert "s3cret" not in str(info.value)


@pytest.mark.live
def test_world_without_arguments_uses_the_environment(monkeypatch, live_redis_url, live_database_url):
    monkeypatch.setenv(REDIS_URL_ENV, live_redis_url)
    monkeypatch.setenv(DATABASE_URL_ENV, live_database_url)
    world = World(dataset="tiny")
    try:
        assert not isinstance(world.redis, fakeredis.FakeRedis)
        assert world.engine.dialect.name == "postgresql"
        assert world.profiles.get("u000001").user_id == "u000001"
    finally:
        world.flush_cache()
        world.repo.drop_schema()
        world.close()


# codec --------------------------------------------------------------------------------------------

def test_marker_round_trips():
    raw = encode_meta(1_234, missing=True)
    assert is_meta(raw) and raw.startswith("~meta{")
    assert decode_meta(raw) == Meta(1, 1_234, True)
    assert decode_meta(encode_meta(99)) == Meta(1, 99, False)


def test_marker_keeps_the_key_order_the_lua_scripts_read():
    assert encode_meta(5).startswith('~meta{"v":1,"exp":5,')


def test_marker_freshness():
    assert Meta(1, 1000).fresh(999) and not Meta(1, 1000).fresh(1000)
    assert not Meta(2, 10**15).fresh(0), "a marker of another payload version is a miss"


@pytest.mark.parametrize("raw", [None, "", "~meta", "~meta{}", "~metanull", "~meta[1]", '~meta"x"', "~meta5",
                                 '~meta{"v":1}', '~meta{"v":1,"exp":"soon"}', '~meta{"v":1,"exp":1e999}',
                                 '~meta{"v":1,"exp":NaN}', '~meta{"v":1,"exp":-Infinity}', "~meta" + "[" * 50_000,
                                 '{"v":1,"exp":5}', 42])
def test_corrupt_markers_raise_corrupt_entry(raw):
    with pytest.raises(CorruptEntry):
        decode_meta(raw)


@given(st.text(max_size=60))
@PROPERTY
def test_any_marker_text_decodes_or_is_corrupt(tail):
    try:
        meta = decode_meta("~meta" + tail)
    except CorruptEntry:
        return
    assert isinstance(meta.expires_ms, int) and isinstance(meta.missing, bool)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                         max_size=3),
                           max_leaves=8)


@given(st.dictionaries(st.sampled_from(["v", "exp", "missing", "other"]), json_values))
@PROPERTY
def test_any_json_marker_decodes_or_is_corrupt(data):
    try:
        decode_meta("~meta" + json.dumps(data))
    except CorruptEntry:
        pass


messages = st.fixed_dictionaries({"id": st.integers(1, 2**62), "conversation_id": st.text(max_size=20),
                                  "sender_id": st.text(max_size=10), "body": st.text(max_size=100),
                                  "sent_ms": st.integers(0, 2**62)})


@given(messages)
@PROPERTY
def test_messages_round_trip_with_the_id_first(message):
    raw = encode_message(message)
    assert raw.startswith('{"id":%d,' % message["id"])
    assert decode_message(raw) == message


def test_message_encoding_ignores_extra_fields():
    message = {"id": 1, "conversation_id": "c", "sender_id": "s", "body": "b", "sent_ms": 2, "extra": 3}
    assert "extra" not in decode_message(encode_message(message))


@pytest.mark.parametrize("raw", ["", "garbage", "[]", "null", '{"id":1}', '{"id":"1","conversation_id":"c",'
                                 '"sender_id":"s","body":"b","sent_ms":2}', '{"id":true,"conversation_id":"c",'
                                 '"sender_id":"s","body":"b","sent_ms":2}', "[" * 100_000, "\ufffd\ufffd"])
def test_corrupt_messages_raise_corrupt_entry(raw):
    with pytest.raises(CorruptEntry):
        decode_message(raw)


@given(st.text(max_size=80))
@PROPERTY
def test_any_message_text_decodes_or_is_corrupt(raw):
    try:
        decode_message(raw)
    except CorruptEntry:
        pass


def test_hash_fields_round_trip_with_their_types():
    fields = {"user_id": "u1", "created_ms": 5, "device": "phone ü"}
    items = hash_items(fields)
    raw = dict(zip(items[::2], items[1::2]))
    assert raw == encode_fields(fields)
    assert decode_fields(raw, {"user_id": str, "created_ms": int, "device": str}) == fields


@pytest.mark.parametrize("raw", [{}, {"n": "not json"}, {"n": '"5"'}, {"n": "true"}, {"n": "5.0"},
                                 {"n": "[" * 100_000}])
def test_corrupt_hash_fields_raise_corrupt_entry(raw):
    with pytest.raises(CorruptEntry):
        decode_fields(raw, {"n": int})


def test_marker_field_is_not_a_profile_field():
    assert META_FIELD.startswith("~") and is_meta(META_FIELD)


# key schema ---------------------------------------------------------------------------------------

def test_keys_are_namespaced_and_hash_tagged():
    keys = KeySchema("course")
    profile = keys.profile("u1")
    assert (profile.data, profile.generation) == ("course:user:{u1}:profile", "course:user:{u1}:gen")
    assert keys.recent_messages("dm.a.b").data == "course:chat:{dm.a.b}:recent"
    assert keys.group_members("g1").data == "course:group:{g1}:members"
    assert keys.presence() == "course:{presence}:last_seen"
    assert keys.presence_cleanup(7) == "course:{presence}:cleanup:7"
    assert keys.pattern() == "course:*"


def test_entry_keys_share_one_hash_tag():
    keys = KeySchema()
    for entry in (keys.profile("u1"), keys.session("ab" * 32), keys.recent_messages("grp.g1"),
                  keys.group_members("g1")):
        tags = {k[k.index("{"):k.index("}") + 1] for k in (entry.data, entry.generation)}
        assert len(tags) == 1


def test_session_keys_use_the_sha256_of_the_token():
    token = "a-bearer-token-of-some-length"
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert token_digest(token) == digest
    assert KeySchema().session(digest).data == f"wc:session:{{{digest}}}:data"


def test_different_namespaces_never_share_keys():
    a, b = KeySchema("wc"), KeySchema("wc2")
    assert a.profile("u1").data != b.profile("u1").data
    assert not b.profile("u1").data.startswith(a.pattern()[:-1])


@pytest.mark.parametrize("namespace", ["", "a:b", "a b", "a*", "x" * 33, "{wc}", None, 5])
def test_bad_namespaces_are_invalid_input(namespace):
    with pytest.raises(InvalidInput):
        KeySchema(namespace)


def test_flush_cache_deletes_only_its_own_namespace(world):
    world.profiles.get("u000001")
    world.redis.set("wc2:user:{u000001}:profile", "another world's")
    world.redis.set("unrelated", "kept")
    try:
        assert world.flush_cache() >= 1
        assert world.redis.get("wc2:user:{u000001}:profile") and world.redis.get("unrelated") == "kept"
        assert list(world.redis.scan_iter(match=world.keys.pattern())) == []
    finally:
        world.redis.delete("wc2:user:{u000001}:profile", "unrelated")


def test_world_with_its_own_namespace_writes_only_there(make_world):
    world = make_world(namespace="course")
    world.profiles.get("u000001")
    world.messages.recent("dm.u000003.u000036")
    keys = list(world.redis.scan_iter(match="*"))
    assert keys and all(k.startswith("course:") for k in keys)


@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()))
def test_the_fast_field_decoder_agrees_with_json_on_every_encoded_value(value):
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert loads_value(raw) == json.loads(raw)
    assert type(loads_value(raw)) is type(json.loads(raw))


def _decodes_like_json(raw: str) -> None:
    try:
        expected = json.loads(raw)
    except ValueError:
        with pytest.raises(ValueError):
            loads_value(raw)
    else:  # compared as JSON text, so that NaN (which JSON's decoder accepts) equals itself
        assert json.dumps(loads_value(raw)) == json.dumps(expected)


@given(st.text(max_size=12))
def test_the_fast_field_decoder_rejects_or_agrees_on_any_text(raw):
    _decodes_like_json(raw)


@pytest.mark.parametrize("raw", ['"a"b"', '"tab\there"', "007", "-0", "1e3", '"\\u0041"', '"', "",
                                 '"a" ', ' "a"', '\ufeff"a"', '"a"x', "1 2", "[1, 2]", '{"a": 1}', "NaN", '"\x7f"'])
def test_the_fast_field_decoder_leaves_the_unusual_to_json(raw):
    _decodes_like_json(raw)


@given(st.text(alphabet=' \t\n"\\x\ufeff0123456789.,-e[]{}:\x00\x7f', max_size=12))
def test_the_fast_field_decoder_rejects_or_agrees_on_json_like_text(raw):
    _decodes_like_json(raw)


def test_the_fast_field_decoder_raises_what_json_raises():
    for raw in ('"a"x', ' ', '\ufeff1', '"\x01"', None):
        with pytest.raises(Exception) as expected:
            json.loads(raw)
        with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
            loads_value(raw)


def test_a_marker_in_another_spelling_still_decodes():
    assert decode_meta('~meta{"exp":5,"v":1}') == Meta(1, 5, False)
    assert decode_meta('~meta{"v":1,"exp":5,"missing":true}') == Meta(1, 5, True)


def test_wait_until_polls_until_the_condition_holds_or_the_time_is_up():
    from whatsapp_cache.clock import wait_until

    answers = iter([False, False, True])
    assert wait_until(lambda: next(answers), timeout_s=5, poll_s=0.001)
    asked = []
    assert not wait_until(lambda: asked.append(1), timeout_s=0.02, poll_s=0.005)
    assert len(asked) >= 2  # asked again after sleeping, then gave up
    assert wait_until(lambda: True, timeout_s=0)  # a condition that holds needs no time
