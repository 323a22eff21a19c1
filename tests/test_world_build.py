"""A World on the embedded default is built from a kept image after the first: same rows, its own copy."""

import pytest

from whatsapp_cache import World
from whatsapp_cache.db import image
from whatsapp_cache.db.dataset import generate
from whatsapp_cache.errors import InvalidInput


def _table_dump(world, table):
    with world.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


@pytest.fixture
def fresh_images():
    image.forget_all()
    yield
    image.forget_all()


def test_a_restored_world_holds_the_same_rows_as_a_loaded_one(fresh_images):
    with World(dataset="tiny") as loaded, World(dataset="tiny") as restored:
        for table in ("users", "sessions", "contacts", "group_members", "messages"):
            assert _table_dump(restored, table) == _table_dump(loaded, table)


def test_each_world_gets_its_own_copy(fresh_images):
    with World(dataset="tiny") as first, World(dataset="tiny") as second:
        user = first.dataset.tables["users"][0]["id"]
        first.profiles.update(user, status_message="only in the first")
        assert second.repo.user(user)["status_message"] != "only in the first"
        conversation = next(c for c in first.dataset.tables["conversations"] if c["user_lo"] == user
                            or c["user_hi"] == user)
        sent = first.messages.send(conversation["id"], user, "hi")
        again = second.messages.send(conversation["id"], user, "hi")
        assert sent.id == again.id  # the id sequence was copied, not shared


def test_the_image_is_taken_before_any_change(fresh_images):
    with World(dataset="tiny") as first:
        user = first.dataset.tables["users"][0]["id"]
        first.profiles.update(user, status_message="changed after the load")
        with World(dataset="tiny") as later:
            assert later.repo.user(user)["status_message"] != "changed after the load"


def test_reset_restores_the_data_set(fresh_images):
    with World(dataset="tiny") as world:
        counts = world.repo.row_counts()
        user = world.dataset.tables["users"][0]["id"]
        world.profiles.update(user, status_message="gone after reset")
        world.reset(dataset="tiny")
        assert world.repo.row_counts() == counts
        assert world.repo.user(user)["status_message"] != "gone after reset"


def test_images_differ_by_seed(fresh_images):
    with World(dataset="tiny", seed=1) as one, World(dataset="tiny", seed=2) as two, \
            World(dataset="tiny", seed=1) as one_again:
        assert _table_dump(one, "users") != _table_dump(two, "users")
        assert _table_dump(one, "users") == _table_dump(one_again, "users")


def test_generate_gives_each_caller_its_own_lists():
    first, second = generate("tiny", 3), generate("tiny", 3)
    assert first.tables == second.tables
    first.tables["users"].clear()
    assert len(second.tables["users"]) == 60 and len(generate("tiny", 3).tables["users"]) == 60


def test_generate_refuses_a_seed_that_is_not_an_integer():
    with pytest.raises(InvalidInput):
        generate("tiny", "1")


def test_a_database_behind_a_url_is_not_imaged(tmp_path, fresh_images):
    url = f"sqlite:///{tmp_path / 'course.db'}"
    with World(database_url=url, dataset="tiny") as world:
        assert not image.is_embedded(world.engine)
    assert not image.restore(World(dataset=None).engine, ("tiny", 0))
