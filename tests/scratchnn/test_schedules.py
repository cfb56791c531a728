"""Each schedule against values worked out by hand."""

import pytest

from scratchnn import constant, cosine_decay, exponential_decay, inverse_time_decay, step_decay
from scratchnn.schedules import linear_warmup


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [
        (0, 0.1),  # epoch counted from 0: the first epoch uses lr0
        (1, 0.1 / (1 + 1 / 3000)),  # decay = lr0 / epochs = 0.1 / 300 = 1/3000
        (150, 0.1 / 1.05),
        (299, 0.1 / (1 + 299 / 3000)),  # the last of 300 epochs: 0.09093...
    ],
)
def test_inverse_time_decay_is_the_original_formula(epoch, expected):
    assert inverse_time_decay(0.1, 0.1 / 300)(epoch) == pytest.approx(expected, rel=1e-12)


def test_constant():
    assert [constant(0.3)(e) for e in (0, 7, 1000)] == [0.3, 0.3, 0.3]


def test_step_decay():
    schedule = step_decay(0.1, step_size=10, gamma=0.5)
    assert [schedule(e) for e in (0, 9, 10, 19, 25)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_exponential_decay():
    schedule = exponential_decay(0.1, gamma=0.9)
    assert [schedule(e) for e in (0, 1, 2)] == pytest.approx([0.1, 0.09, 0.081])


def test_cosine_decay():
    schedule = cosine_decay(0.1, epochs=10)
    assert [schedule(e) for e in (0, 5, 10)] == pytest.approx([0.1, 0.05, 0.0])
    assert cosine_decay(0.1, epochs=10, min_lr=0.01)(5) == pytest.approx(0.055)


def test_linear_warmup_rises_to_lr0_then_runs_the_schedule_from_its_start():
    schedule = linear_warmup(cosine_decay(0.1, epochs=10), warmup_epochs=4)
    lrs = [schedule(e) for e in range(15)]
    assert lrs[:5] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])  # 0.1 * (e + 1) / 5
    assert lrs[9] == pytest.approx(0.05)  # the cosine's epoch 5: halfway down
    assert lrs[14] == pytest.approx(0.0)  # its epoch 10: the end


def test_linear_warmup_of_zero_epochs_is_the_schedule_itself():
    schedule = step_decay(0.1, step_size=2, gamma=0.5)
    warmed = linear_warmup(schedule, 0)
    assert [warmed(e) for e in range(6)] == [schedule(e) for e in range(6)]
    with pytest.raises(ValueError, match="warmup_epochs=-1"):
        linear_warmup(schedule, -1)
