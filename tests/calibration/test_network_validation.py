"""Distributed runs over shaped links against the model (root only: network namespaces and tc)."""

import dataclasses

import pytest

from reference_impl.network.namespaces import netlab_available

AVAILABLE, WHY = netlab_available()


@pytest.mark.root
@pytest.mark.skipif(not AVAILABLE, reason=f"needs root and ip netns: {WHY}")
def test_transfers_over_shaped_links_match_the_model():
    from calibration.network_validation import NetworkPoint, default_network_points, validate_network
    from costmodel.contracts.calibration_file import default_calibration

    astraea = default_network_points()[0]
    point = NetworkPoint(label="test", config=dataclasses.replace(astraea.config, rounds=1),
                         uplink_bits_per_s=4e6, downlink_bits_per_s=16e6)
    table = validate_network(default_calibration(), [point], timeout_s=60, progress=False).set_index("quantity")
    assert list(table.index) == ["client_download", "client_upload", "round (wall)", "round (virtual)"]
    assert (table.n[["client_download", "client_upload"]] == 6).all()
    # the link dominates a 275,508-byte message at these rates: the model must hold within 10%
    assert (table.ape_percent[["client_download", "client_upload", "round (virtual)"]] < 10).all(), table
