import pytest
import torch

from reference_impl.engine.aggregation import weighted_average


def test_weighted_average_matches_hand_computation():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 4.0])
    # weights 1 and 3: (1*a + 3*b)/4 = [0.25, 3.0]
    assert torch.allclose(weighted_average([a, b], [1, 3]), torch.tensor([0.25, 3.0]))


def test_update_form_with_corrected_sign_equals_weighted_average():
    torch.manual_seed(0)
    w = torch.randn(10)
    models = [torch.randn(10) for _ in range(3)]
    n = [5.0, 7.0, 13.0]
    update_form = w + sum((nm / sum(n)) * (wm - w) for nm, wm in zip(n, models))
    assert torch.allclose(weighted_average(models, n), update_form, atol=1e-6)


@pytest.mark.parametrize("vectors,weights", [([], []), ([torch.ones(2)], [0.0]), ([torch.ones(2)], [1, 2])])
def test_bad_weights_are_refused(vectors, weights):
    with pytest.raises(ValueError):
        weighted_average(vectors, weights)


def test_average_into_the_servers_buffer_is_the_same_average_in_the_same_storage():
    torch.manual_seed(1)
    models = [torch.randn(1000) for _ in range(4)]
    weights = [3.0, 1.0, 2.0, 5.0]
    buffer = torch.full((1000,), float("nan"))
    result = weighted_average(models, weights, out=buffer)
    assert result.data_ptr() == buffer.data_ptr()
    assert torch.equal(result, weighted_average(models, weights))


def test_buffer_that_is_also_an_input_is_read_before_it_is_overwritten():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 4.0])
    expected = weighted_average([a.clone(), b], [1, 3])
    result = weighted_average([a, b], [1, 3], out=a)
    assert result.data_ptr() == a.data_ptr()
    assert torch.equal(result, expected)
