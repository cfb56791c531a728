import numpy as np
import pytest

from scratchnn.denormals import DenormalFlusher


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_only_subnormal_numbers_become_zero(dtype):
    tiny = np.finfo(dtype).tiny
    values = np.array([tiny / 2, -tiny / 3, tiny, -tiny, 0.0, 1e-3, -2.0, tiny * 1.5], dtype)
    flushed = values.copy()
    DenormalFlusher(flushed)(flushed)
    expected = np.array([0, 0, tiny, -tiny, 0, 1e-3, -2.0, tiny * 1.5], dtype)
    np.testing.assert_array_equal(flushed, expected)


def test_one_flusher_serves_several_arrays_of_a_shape():
    tiny = np.finfo(np.float32).tiny
    a = np.full(4, tiny / 4, np.float32)
    b = np.array([1, tiny / 4, 2, 3], np.float32)
    flush = DenormalFlusher(a)
    flush(a)
    flush(b)
    assert not a.any()
    np.testing.assert_array_equal(b, [1, 0, 2, 3])
