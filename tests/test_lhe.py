"""LHE reader: every fixture (MadGraph 2.x, Pythia 8, LHEF3) reads; bad files are named."""

from __future__ import annotations

import gzip

import awkward as ak
import numpy as np
import pytest

from resim.errors import LHEError
from resim.contracts import TRUTH_FIELDS
from resim.lhe import count_event_tags, count_events, iter_events, read_truth, truth_array

EXPECTED_EVENTS = {
    "pylhe-testfile-madgraph-2.0.0-wbj.lhe": 59,
    "pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz": 10000,
    "pylhe-testfile-pythia-8.3.14-weakbosons.lhe": 100,
    "pylhe-testlhef3.lhe": 59,
}


def test_every_fixture_reads(fixture_lhe_files):
    for path in fixture_lhe_files:
        truth = read_truth(path)
        assert len(truth) == EXPECTED_EVENTS[path.name], path.name
        assert tuple(ak.fields(truth)) == TRUTH_FIELDS
        assert ak.sum(ak.num(truth)) >= len(truth) / 2  # (Drell-Yan e+e- events have none)
        first = next(iter_events(path))
        # four-momentum is conserved between the incoming and the final particles
        incoming = first.momenta[first.status == -1, :4].sum(axis=0)
        final = first.momenta[first.status == 1, :4].sum(axis=0)
        assert np.allclose(incoming, final, rtol=1e-5, atol=1e-3), path.name


def test_tag_count_agrees_with_the_reader(fixture_lhe_files):
    # the progress total of a simulate job; MadGraph, Pythia and LHEF3 files, gzipped or not
    for path in fixture_lhe_files:
        assert count_event_tags(path) == EXPECTED_EVENTS[path.name], path.name


def test_truth_objects_of_the_fixtures(fixture_lhe_files):
    by_name = {p.name: p for p in fixture_lhe_files}
    z = read_truth(by_name["pylhe-testfile-madgraph-2.2.1-Z-mlm.lhe.gz"])[0]
    assert z.pid.tolist() == [23] and sorted(z.daughters[0].pid.tolist()) == [-11, 11]
    weak = read_truth(by_name["pylhe-testfile-pythia-8.3.14-weakbosons.lhe"])[0]
    # the quarks of the Z and W decays are daughters, not partons of their own
    assert weak.pid.tolist() == [23, 24] and ak.num(weak.daughters).tolist() == [2, 2]
    wbj = read_truth(by_name["pylhe-testfile-madgraph-2.0.0-wbj.lhe"])[0]
    assert wbj.pid.tolist() == [24, 5, 1]  # an undecayed W keeps no daughters
    assert ak.all(ak.flatten(read_truth(by_name["pylhe-testlhef3.lhe"]).first_split) == 0)


def test_empty_batch_keeps_the_type(tmp_path):
    events = list(iter_events(_broken(VALID, tmp_path, "ok.lhe")))
    assert str(truth_array([]).type)[1:] == str(truth_array(events).type)[1:]
    assert truth_array(events).pid.tolist() == [[21, 21]]


VALID = """<LesHouchesEvents version="3.0">
<init>
 2212 2212 6.5e3 6.5e3 0 0 0 0 3 1
 1.0 0.1 1.0 1
</init>
<event>
 4 1 1.0 100.0 0.0078 0.118
 21 -1 0 0 501 502 0 0 500 500 0 0 9
 21 -1 0 0 502 503 0 0 -500 500 0 0 9
 21 1 1 2 501 504 400 0 0 400 0 0 9
 21 1 1 2 504 503 -400 0 0 400 0 0 9
</event>
</LesHouchesEvents>
"""


def _broken(text: str, tmp_path, name="bad.lhe"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, words", [
    (VALID.replace("</event>\n</LesHouchesEvents>\n", ""), r"event 0 \(line 6\): truncated"),
    (VALID.replace("</LesHouchesEvents>\n", ""), "after event 0: truncated: no closing"),
    (VALID.replace(" 4 1 1.0", " 5 1 1.0"), "event 0.*NUP = 5 but 4 particle lines"),
    (VALID.replace("400 0 0 400", "4x0 0 0 400", 1), "event 0.*does not parse"),
    (VALID.replace(" 21 1 1 2 501", " 21 1 7 2 501"), "event 0.*mother index outside"),
    (VALID.replace(" 4 1 1.0 100.0 0.0078 0.118", " 4 1"), "event 0.*line 7.*event header needs 6"),
    (VALID.replace("<init>", "<inot>"), r"line 6.*<event> before <init>"),
    ("hello\n" * 30, "not an LHE file"),
])
def test_bad_files_name_file_and_event(tmp_path, text, words):
    path = _broken(text, tmp_path)
    with pytest.raises(LHEError, match=words) as error:
        count_events(path)
    assert str(path) in str(error.value)


def test_errors_come_after_the_good_events(tmp_path):
    second = VALID.split("<event>")[1].split("</event>")[0]
    text = VALID.replace("</LesHouchesEvents>", "<event>" + second.replace(" 21 1 1 2 504", " 21 1 1") + "</event>\n</LesHouchesEvents>")
    events = iter_events(_broken(text, tmp_path))
    assert next(events).index == 0
    with pytest.raises(LHEError, match="event 1 "):
        next(events)


def test_truncated_gzip(tmp_path, hard_files):
    data = hard_files["qcd"].read_bytes()
    path = tmp_path / "cut.lhe.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LHEError, match="cut.lhe.gz"):
        count_events(path)
    with gzip.open(hard_files["qcd"], "rt") as handle:
        text = handle.read()
    path.write_bytes(gzip.compress(text[: len(text) * 2 // 3].encode()))
    with pytest.raises(LHEError, match=r"cut.lhe.gz: event \d+ \(line \d+\): truncated"):
        count_events(path)


def test_missing_file(tmp_path):
    with pytest.raises(LHEError, match="does not exist"):
        count_events(tmp_path / "none.lhe")


from fixtures_engine import hard_files  # noqa: E402,F401 (fixture)


def test_any_truncation_is_an_lhe_error(tmp_path):
    """Cut a three-event file anywhere before its end: LHEError naming the file, never another
    exception and never a silently shorter file."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    event = VALID.split("<event>")[1].split("</event>")[0]
    text = VALID.replace("</LesHouchesEvents>", f"<event>{event}</event>\n<event>{event}</event>\n"
                                                "</LesHouchesEvents>")
    path = tmp_path / "cut.lhe"

    @settings(max_examples=60, deadline=None)
    @given(st.integers(min_value=0, max_value=len(text.rstrip()) - 1))
    def check(cut):
        path.write_text(text[:cut])
        with pytest.raises(LHEError, match="cut.lhe"):
            count_events(path)

    check()
    path.write_text(text)
    assert count_events(path) == 3
