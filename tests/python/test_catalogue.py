"""Listing, deleting, stats and client configuration."""

import os

import numpy as np
import pytest

import matcache


def test_default_address_comes_from_the_environment(server, name):
    with matcache.Client() as c:
        assert c.address == server.address
        c.put(name, np.arange(3))
        assert np.array_equal(c.get(name), np.arange(3))


def test_list_follows_pages_in_name_order(server, name):
    names = [f"{name}.{i:05d}" for i in range(1005)]
    with matcache.Client(server.address, local=False) as c:
        for n in reversed(names):
            c.put(n, np.zeros(1, dtype=np.uint8))
        try:
            listed = c.list(name + ".")
            assert [m.name for m in listed] == names
            assert all(m.shape == (1,) and m.nbytes == 1 for m in listed)
        finally:
            for n in names:
                c.delete(n)
    with matcache.Client(server.address) as c:
        assert c.list(name) == []


def test_list_prefix_filters(client, name):
    client.put(f"{name}a", np.zeros(1))
    client.put(f"{name}b", np.zeros(2))
    client.put(f"x{name}", np.zeros(3))
    assert [m.name for m in client.list(name)] == [f"{name}a", f"{name}b"]
    assert f"x{name}" in [m.name for m in client.list()]


def test_delete_removes_name_but_not_held_arrays(client, name):
    client.put(name, np.arange(4.0))
    held = client.get(name)
    path = client.info(name).path
    client.delete(name)
    with pytest.raises(matcache.NotFoundError):
        client.get(name)
    assert name not in [m.name for m in client.list(name)]
    assert np.array_equal(held, np.arange(4.0))
    assert not os.path.exists(path)


def test_stats_counts_matrices(server, client, name):
    before = client.stats()
    client.put(name, np.zeros(1000, dtype=np.int64))
    after = client.stats()
    assert after.matrix_count == before.matrix_count + 1
    assert after.matrix_bytes == before.matrix_bytes + 8000
    assert after.shm_dir == str(server.shm_dir)
    assert 0 < after.shm_dir_free_bytes <= after.shm_dir_total_bytes
    assert after.staging_count == 0
    client.delete(name)
    assert client.stats().matrix_count == before.matrix_count


def test_replace_bumps_generation(client, name):
    first = client.put(name, np.zeros(2))
    second = client.put(name, np.ones(3))
    assert second.generation > first.generation
    assert second.id != first.id
    assert second.shape == (3,)
    assert np.array_equal(client.get(name), np.ones(3))
