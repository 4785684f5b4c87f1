"""The two sides of the project describe the same things the same way.

calibration/ is the only part that imports both the reference implementation and the cost model, so
the checks that they agree live here: model sizes and FLOP counts of the presets, message sizes, and
the augmentation volume of the TPDS and ICCD plans.
"""

import numpy as np
import pytest

from costmodel.model.augmentation_volume import iccd_volume, plan_volume, tpds_volume
from costmodel.model.label_mix import PAPERS_DIRICHLET_ALPHA, augmentation_inputs
from costmodel.model.scenario import Scenario
from reference_impl.engine import wire
from reference_impl.protocols.augmentation_plans import iccd_plan, tpds_plan, tpds_printed_plan
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
        for plan, volume in ((tpds_plan(sizes, tau_d=tau_d), tpds_volume(sizes, tau_d)),
                             (tpds_printed_plan(sizes, tau_d=tau_d), tpds_volume(sizes, tau_d, target_rule="printed"))):
            assert volume.plan == plan.kind
            np.testing.assert_allclose(plan.ratios, volume.ratios, rtol=1e-12)
            assert plan.expected_new_samples(sizes) == pytest.approx(volume.augmented_samples, rel=1e-12)
            assert sizes.sum() - plan.expected_kept(sizes) == pytest.approx(volume.removed_samples, rel=1e-12, abs=1e-9)
            assert plan.storage_growth(sizes) == pytest.approx(volume.growth_fraction, rel=1e-9, abs=1e-12)
    plan, volume = iccd_plan(sizes, alpha=0.5), iccd_volume(sizes, 0.5)
    np.testing.assert_allclose(plan.ratios, volume.ratios, rtol=1e-12)
    assert plan.expected_new_samples(sizes) == pytest.approx(volume.augmented_samples, rel=1e-12)


def test_both_sides_state_the_papers_partition_alike():
    from costmodel.model.augmentation_volume import PLANS
    from costmodel.model.label_mix import EMNIST_HISTOGRAM
    from reference_impl.config import AUGMENTATION_PLANS
    from reference_impl.config import PAPERS_DIRICHLET_ALPHA as REFERENCE_ALPHA
    from reference_impl.studies.imbalance import PAPERS_EMNIST_IMBALANCE_RATIO

    assert PAPERS_DIRICHLET_ALPHA == REFERENCE_ALPHA == EMNIST_HISTOGRAM.dirichlet_alpha
    assert PAPERS_EMNIST_IMBALANCE_RATIO == EMNIST_HISTOGRAM.imbalance_ratio
    assert set(PLANS) == set(AUGMENTATION_PLANS)


@pytest.mark.parametrize("plan", ["tpds", "tpds-printed", "iccd"])
def test_volume_of_a_configured_plan_is_the_plan_a_run_makes(plan):
    from reference_impl.protocols.astraea import make_plan
    from reference_impl.config import RunConfig

    sizes = np.round(6000 * 0.05 ** (np.arange(47) / 46)).astype(np.int64)
    config = RunConfig(plan=plan, tau_d=3.5, alpha=0.7)
    made, volume = make_plan(config, sizes), plan_volume(plan, sizes, threshold=3.5, alpha=0.7)
    assert volume.plan == made.kind
    assert made.expected_new_samples(sizes) == pytest.approx(volume.augmented_samples, rel=1e-12)


@pytest.mark.parametrize("partition", [dict(local_imbalance="none"),
                                       dict(local_imbalance="classes", classes_per_client=2),
                                       dict(local_imbalance="dirichlet", dirichlet_alpha=PAPERS_DIRICHLET_ALPHA)],
                         ids=lambda p: p["local_imbalance"])
def test_derived_spread_is_that_of_planned_partitions(partition):
    """The closed-form s_a against the reference partition and plan draw (the papers' EMNIST setup).

    Planned over two seeds: none 0.116 (formula 0.116), classes 1.22 (1.22), Dirichlet 0.233 (0.212: the
    last clients filled get what is left of each class, which the formula does not model), hence 15%.
    """
    from reference_impl.config import RunConfig
    from reference_impl.workload import plan_workload

    spreads, volumes = [], []
    for seed in (0, 1):
        config = RunConfig(dataset="emnist-shape", samples=112_800, clients=500, clients_per_round=2, gamma=2, rounds=1,
                           plan="tpds-printed", tau_d=3.5, global_imbalance="long-tail", imbalance_ratio=0.09897,
                           seed=seed, **partition)
        planned = plan_workload(config)
        spreads.append(planned.net_growth.std())
        volumes.append(planned.augmented_sizes.sum() / planned.original_sizes.sum())
        sizes = planned.original_histograms.sum(axis=0)
    derived = augmentation_inputs(sizes, "tpds-printed", threshold=3.5, samples_per_client=225.6, **partition)
    assert np.mean(volumes) == pytest.approx(derived.augmented_fraction, rel=0.01)
    assert np.mean(spreads) == pytest.approx(derived.augmented_fraction_sd, rel=0.15)
