import numpy as np
import pytest
import torch

from reference_impl.engine import wire
from reference_impl.models import build_model, count_parameters
from torch.nn.utils import parameters_to_vector


def test_model_message_is_header_plus_four_bytes_per_parameter():
    model = build_model("tpds", sample_shape=(1, 28, 28), num_classes=47)
    vector = parameters_to_vector(model.parameters())
    message = wire.encode_vector(vector)
    assert count_parameters(model) == 68_873
    assert len(message) == 16 + 4 * 68_873 == wire.message_bytes(68_873) == 275_508
    assert torch.equal(wire.decode_vector(message), vector.detach())


def test_histogram_message_is_header_plus_eight_bytes_per_class():
    counts = np.arange(47, dtype=np.int64) * 1000
    message = wire.encode_counts(counts)
    assert len(message) == 16 + 8 * 47
    np.testing.assert_array_equal(wire.decode_counts(message), counts)


@pytest.mark.parametrize("cut", [0, 10, 17])
def test_truncated_or_foreign_messages_are_refused(cut):
    message = wire.encode_vector(torch.ones(4))
    with pytest.raises(ValueError, match="must"):
        wire.decode_vector(message[:cut] if cut else b"XXXX" + message[4:])


def test_a_histogram_is_not_decoded_as_a_model():
    with pytest.raises(ValueError, match="dtype code 1"):
        wire.decode_vector(wire.encode_counts(np.ones(3)))
