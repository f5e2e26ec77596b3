"""Runs taken in turn (bench/suite/samples.turn_order) and the put family's
order of peers. No server is started."""

from suite import peers, put_get
from suite.samples import turn_order


def test_every_other_round_runs_backwards():
    assert [turn_order("ABC", r) for r in range(4)] == [
        list("ABC"), list("CBA"), list("ABC"), list("CBA")]
    assert turn_order({10: "x", 100: "y"}, 1) == [100, 10]
    assert turn_order([], 3) == []


def test_puts_take_the_peers_in_turn_and_time_each_one(monkeypatch):
    monkeypatch.setattr(peers, "vector", lambda size: b"v" * size)
    calls = []

    def peer(subject):
        return peers.Peer(subject,
                          put=lambda source: calls.append((subject, source)),
                          remove=lambda: calls.append((subject, "removed")))

    measured = put_get._puts([peer("A"), peer("B"), peer("C")], 4, repeat=3)

    puts = [subject for subject, what in calls if what != "removed"]
    # One untimed put of each, then the timed rounds: forwards, backwards,
    # forwards.
    assert puts == list("ABC") + list("ABC") + list("CBA") + list("ABC")
    # Every put is removed before the next begins.
    assert calls[1::2] == [(subject, "removed") for subject in puts]
    assert all(what == b"vvvv" for _, what in calls[0::2])
    assert {m.subject: len(m.values) for m in measured} == {"A": 3, "B": 3,
                                                            "C": 3}
