"""The two sides of the project describe the same things the same way.

calibration/ is the only part that imports both the reference implementation and the cost model, so
the checks that they agree live here: model sizes and FLOP counts of the presets, message sizes, and
the augmentation volume of the TPDS and ICCD plans.
"""

import numpy as np
import pytest

from costmodel.augmentation_volume import iccd_volume, tpds_volume
from costmodel.symbols import Scenario
from reference_impl import wire
from reference_impl.augmentation import iccd_plan, tpds_plan
from reference_impl.models import (
    build_model,
    conv_input_values_per_sample,
    count_parameters,
    train_flops_per_sample,
)


@pytest.mark.parametrize("preset,name,shape,classes", [
    (Scenario.emnist, "tpds", (1, 28, 28), 47),
    (Scenario.cinic10, "keras-cifar", (3, 32, 32), 10),
])
def test_presets_match_the_reference_models(preset, name, shape, classes):
    scenario = preset()
    model = build_model(name, sample_shape=shape, num_classes=classes)
    assert scenario.params == count_parameters(model)
    assert scenario.train_flops_per_sample == train_flops_per_sample(model, shape, batch_size=scenario.batch_size)
    assert scenario.sample_values == int(np.prod(shape))
    assert scenario.conv_input_values == conv_input_values_per_sample(model, shape)
    assert scenario.message_header_bytes + scenario.bytes_per_param * scenario.params == wire.message_bytes(scenario.params)


@pytest.mark.parametrize("seed", range(5))
def test_augmentation_volume_matches_the_reference_plans(seed):
    rng = np.random.default_rng(seed)
    sizes = np.sort(rng.integers(1, 5000, size=47))[::-1] * (rng.random(47) < 0.9)
    sizes[0] = 20000  # one dominant class, so something is downsampled too
    for tau_d in (1.0, 3.0, 3.5):
        plan, volume = tpds_plan(sizes, tau_d=tau_d), tpds_volume(sizes, tau_d)
        np.testing.assert_allclose(plan.ratios, volume.ratios, rtol=1e-12)
        assert plan.storage_growth(sizes) == pytest.approx(volume.growth_fraction, rel=1e-9, abs=1e-12)
    plan, volume = iccd_plan(sizes, alpha=0.5), iccd_volume(sizes, 0.5)
    np.testing.assert_allclose(plan.ratios, volume.ratios, rtol=1e-12)
