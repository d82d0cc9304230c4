"""The numpy rolling filters are scipy.ndimage's, value for value."""
import numpy as np
import pytest
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d

from peakclip.detectors.rolling import rolling_max, rolling_mean, rolling_median


@pytest.mark.parametrize("length", [1, 2, 5, 37, 240, 1201])
@pytest.mark.parametrize("size", [1, 3, 4, 5, 6, 241])
def test_rolling_filters_equal_scipy(length, size):
    rng = np.random.default_rng(length * 1000 + size)
    values = np.round(rng.normal(0, 3, length), 1)      # rounded: ties, as real series have
    for mode in ("reflect", "nearest"):
        if size <= 2 * length:   # beyond that scipy's median_filter reads memory it never wrote (seen: 4.7e-310)
            np.testing.assert_array_equal(rolling_median(values, size, mode), median_filter(values, size=size, mode=mode))
        np.testing.assert_array_equal(rolling_max(values, size, mode), maximum_filter1d(values, size, mode=mode))
        np.testing.assert_allclose(rolling_mean(values, size, mode), uniform_filter1d(values, size, mode=mode),
                                   rtol=1e-12, atol=1e-12)


def test_empty_series_stay_empty():
    assert len(rolling_median(np.zeros(0), 5)) == len(rolling_max(np.zeros(0), 5)) == len(rolling_mean(np.zeros(0), 5)) == 0
