"""The synthetic data set: deterministic, CSV round trip, loadable, tokens never stored."""

from pathlib import Path

import pytest

from whatsapp_cache import InvalidInput
from whatsapp_cache.db.dataset import SIZES, Dataset, generate, load, session_token
from whatsapp_cache.db.repository import direct_conversation_id, group_conversation_id
from whatsapp_cache.keys import token_digest
from whatsapp_cache.validation import ID_PATTERN

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return generate("tiny", seed=0)


def test_same_seed_and_size_give_the_same_rows(tiny):
    assert generate("tiny", seed=0).tables == tiny.tables


def test_another_seed_gives_other_rows(tiny):
    other = generate("tiny", seed=1)
    assert other.tables["messages"] != tiny.tables["messages"]
    assert other.tables["sessions"] != tiny.tables["sessions"]


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_sizes_follow_the_plan(size):
    plan, counts = SIZES[size], generate(size).counts()
    assert counts["users"] == counts["sessions"] == plan["users"]
    assert counts["chat_groups"] == plan["groups"] and counts["messages"] == plan["messages"]
    assert counts["conversations"] == plan["direct_conversations"] + plan["groups"]


def test_unknown_size_is_invalid_input():
    for size in ("huge", None, ["tiny"]):
        with pytest.raises(InvalidInput):
            generate(size)


def test_csv_round_trip_gives_identical_tables(tiny, tmp_path):
    paths = tiny.to_csv(tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{name}.csv" for name in tiny.tables)
    back = Dataset.from_csv(tmp_path, "tiny", 0)
    assert back.tables == tiny.tables
    assert back.counts() == tiny.counts()


def test_csv_keeps_nulls_and_integers(tiny, tmp_path):
    tiny.to_csv(tmp_path)
    back = Dataset.from_csv(tmp_path, "tiny", 0)
    assert back.tables["users"][0]["last_seen_ms"] is None
    assert isinstance(back.tables["messages"][0]["id"], int)
    group_conversation = next(c for c in back.tables["conversations"] if c["kind"] == "group")
    assert group_conversation["user_lo"] is None and group_conversation["group_id"]


def test_missing_csv_file_is_invalid_input(tiny, tmp_path):
    tiny.to_csv(tmp_path)
    (tmp_path / "messages.csv").unlink()
    with pytest.raises(InvalidInput):
        Dataset.from_csv(tmp_path, "tiny", 0)


def test_committed_small_csvs_match_the_generator():
    assert Dataset.from_csv(DATA_DIR / "small", "small", 0).tables == generate("small", 0).tables


def test_world_loads_the_data_set_counts(world):
    assert world.repo.row_counts() == world.dataset.counts()


def test_loading_csv_rows_gives_the_counts(make_world, tiny, tmp_path):
    world = make_world(dataset=None)
    assert world.repo.row_counts()["users"] == 0
    tiny.to_csv(tmp_path)
    assert load(world.repo, Dataset.from_csv(tmp_path, "tiny", 0)) == tiny.counts()
    assert world.repo.row_counts() == tiny.counts()
    assert world.profiles.get("u000059").user_id == "u000059"


def test_message_ids_continue_after_a_load(world):
    """PostgreSQL's id sequence is moved past the loaded ids, so new messages do not collide."""
    sent = world.messages.send("dm.u000003.u000036", "u000003", "after the load")
    assert sent.id == world.dataset.counts()["messages"] + 1


def test_sessions_table_holds_digests_only(tiny):
    for row in tiny.tables["sessions"]:
        assert row["token_hash"] == token_digest(session_token(0, row["user_id"]))
        assert len(row["token_hash"]) == 64 and set(row["token_hash"]) <= set("0123456789abcdef")


def test_no_raw_token_in_the_csv_files_or_the_database(world, tiny, tmp_path):
    tokens = [tiny.session_token(row["id"]) for row in tiny.tables["users"]]
    written = "".join(path.read_text() for path in tiny.to_csv(tmp_path))
    with world.repo.engine.connect() as conn:
        stored = repr(conn.exec_driver_sql("SELECT * FROM sessions").all())
    assert [t for t in tokens if t in written or t in stored] == []
    assert token_digest(tokens[0]) in written and token_digest(tokens[0]) in stored


def test_data_set_tokens_open_their_sessions(world):
    assert world.sessions.authenticate(world.dataset.session_token("u000042")).user_id == "u000042"


def test_rows_are_consistent(tiny):
    tables = tiny.tables
    users = {u["id"] for u in tables["users"]}
    assert all(ID_PATTERN.fullmatch(i) for i in users | {g["id"] for g in tables["chat_groups"]})
    members = {}
    for m in tables["group_members"]:
        members.setdefault(m["group_id"], set()).add(m["user_id"])
    participants = {}
    for c in tables["conversations"]:
        if c["kind"] == "direct":
            assert c["user_lo"] < c["user_hi"] and c["id"] == direct_conversation_id(c["user_hi"], c["user_lo"])
            participants[c["id"]] = {c["user_lo"], c["user_hi"]}
        else:
            assert c["id"] == group_conversation_id(c["group_id"])
            participants[c["id"]] = members.get(c["group_id"], set())
    messages = tables["messages"]
    assert [m["id"] for m in messages] == list(range(1, len(messages) + 1))
    assert all(a["sent_ms"] <= b["sent_ms"] for a, b in zip(messages, messages[1:]))
    assert all(m["sender_id"] in participants[m["conversation_id"]] for m in messages)
    assert all(c["owner_id"] != c["contact_id"] for c in tables["contacts"])


def test_every_fiftieth_group_of_the_small_set_is_empty():
    small = generate("small", 0)
    with_members = {m["group_id"] for m in small.tables["group_members"]}
    empty = sorted(g["id"] for g in small.tables["chat_groups"] if g["id"] not in with_members)
    assert empty == ["g00049", "g00099", "g00149"]
