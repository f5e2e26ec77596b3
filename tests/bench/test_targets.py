"""The benchmark report's verdicts: how a target reads a run's measurements
(bench/suite/targets.py). Pure arithmetic on hand-made measurements; no
server is started."""

import pytest

from suite import peers, put_get, targets
from suite.samples import Measurement
from suite.scale import GIB


def put(subject, values, size=GIB):
    return Measurement(put_get.FAMILY, subject, put_get.PUT, "ms", size,
                       values=list(values))


def test_a_miss_by_a_hair_never_reads_as_its_limit():
    target = targets.Target("x ≤ 1.0", 1.0, "×", False, value=1.0004)
    assert not target.met
    assert target.measured() == "1.0004× (1.0004× the limit)"
    assert target.line().startswith("NOT MET")


def test_a_value_at_its_limit_keeps_its_short_form():
    target = targets.Target("x ≥ 2.0", 2.0, "GB/s", True, value=2.0)
    assert target.met
    assert target.measured() == "2.00 GB/s (1.00× the target)"


@pytest.mark.parametrize("value, text", [(0.99996, "0.99996"),
                                         (1.00004, "1.00004")])
def test_apart_from_adds_the_decimals_it_takes(value, text):
    assert targets._apart_from(value, 1.0, "1.00") == text


def test_a_time_ratio_is_of_medians_and_names_the_fastest_runs():
    slower = put(peers.LOCAL_SHM, [300, 400, 900])
    faster = put(peers.NP_SAVE, [100, 200, 250])
    target = targets._time_ratio(
        targets.Target("put ≤ 1.0× np.save", 1.0, "×", False, GIB),
        slower, faster)
    assert target.value == pytest.approx(2.0)
    assert target.fastest == pytest.approx(3.0)
    assert not target.met
    assert target.measured().endswith("; fastest runs 3.00×")


def test_a_ratio_with_a_peer_not_measured_is_skipped_with_its_reason():
    skipped = Measurement(put_get.FAMILY, peers.LOAD_HUGE, put_get.PUT, "ms",
                          GIB, skipped="skipped: not run as root")
    target = targets._server_load("Load ≤ 1.0× np.load", 1.0, [skipped],
                                  peers.LOAD_HUGE, GIB)
    assert target.met is None
    assert target.verdict == "skipped"
    assert target.measured() == "skipped: not run as root"
    missing = targets._server_load("Load ≤ 1.0× np.load", 1.0, [skipped],
                                   peers.LOAD_SHM, GIB)
    assert missing.measured() == "skipped: not measured in this run"


def test_a_put_speedup_is_the_hacks_time_over_ours():
    run = [put(peers.LOCAL_SHM, [200, 250, 300]),
           put(peers.HACK_PUT, [600, 700, 800])]
    target = targets._put_speedup("put ≥ 1.5× the hack's", 1.5, run,
                                  peers.LOCAL_SHM, GIB)
    assert target.value == pytest.approx(700 / 250)
    assert target.met
