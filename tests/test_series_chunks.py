import numpy as np
import pytest

from peakclip.detectors.chunks import plan_chunks
from peakclip.detectors.series import Series, bins_for, concat


@pytest.mark.parametrize("duration", [10.0, 299.9, 300.0, 301.3, 1000.25, 3600.0])
def test_chunks_cover_the_recording_on_the_bin_grid(duration):
    chunks = plan_chunks(duration, 300.0, 0.5)
    assert chunks[0].start == 0.0 and chunks[-1].end == pytest.approx(duration)
    for before, after in zip(chunks, chunks[1:]):
        assert before.end == after.start
        assert (before.end / 0.5) == pytest.approx(round(before.end / 0.5))
    # a tiny tail joins the previous chunk rather than standing alone
    assert all(c.end - c.start >= 75.0 or len(chunks) == 1 for c in chunks)


def test_concat_joins_consecutive_chunks_and_refuses_gaps():
    a = Series("audio", 0.0, 0.5, [1, 2])
    b = Series("audio", 1.0, 0.5, [3])
    joined = concat([b, a])
    assert joined.t0 == 0.0 and list(joined.values) == [1, 2, 3]
    with pytest.raises(ValueError):
        concat([a, Series("audio", 5.0, 0.5, [9])])


def test_fit_and_bins():
    assert bins_for(10.0, 0.5) == 20 and bins_for(10.1, 0.5) == 21
    s = Series("x", 0, 0.5, np.arange(3)).fit(5, fill=-1)
    assert list(s.values) == [0, 1, 2, -1, -1]
    assert Series.from_dict(s.to_dict()).values.tolist() == s.values.tolist()
