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


@pytest.mark.root
@pytest.mark.skipif(not AVAILABLE, reason=f"needs root and ip netns: {WHY}")
def test_embed_stores_both_network_checks_beside_the_calibration(tmp_path, monkeypatch, capsys):
    import calibration.cli as calibration_cli
    from calibration import network_validation
    from calibration.network_validation import NetworkPoint, default_network_points
    from costmodel.cli import main
    from costmodel.contracts.network_evidence import load_network_evidence

    stored = tmp_path / "evidence.json"
    monkeypatch.setattr(calibration_cli, "embedded_network_evidence_path", lambda: stored)
    real = network_validation.validate_network
    one = NetworkPoint(label="test", config=dataclasses.replace(default_network_points()[1].config, rounds=1),
                       uplink_bits_per_s=10e6, downlink_bits_per_s=40e6)
    monkeypatch.setattr(network_validation, "validate_network",
                        lambda calibration, progress: real(calibration, [one], timeout_s=60, progress=False))
    assert main(["link-sweep", "--quick", "--embed", "--repeats", "1"]) == 2     # no noise from one repeat
    assert "'repeats' must be >= 2 with --embed" in capsys.readouterr().err and not stored.exists()
    assert main(["link-sweep", "--quick", "--embed", "--repeats", "2"]) == 0
    first = load_network_evidence(stored)
    assert first.network is None and first.links["n_transfers"] > 0 and first.links["heldout_mape_pct"] < 8
    assert main(["validate-network", "--embed", "--quiet", "--out", str(tmp_path / "net")]) == 0
    both = load_network_evidence(stored)
    assert both.links == first.links                         # one check does not erase the other
    summary = both.network_summary().set_index("quantity")
    assert list(summary.index) == ["client_download", "client_upload", "round (wall)", "round (virtual)"]
    assert both.network["rows"][0]["algorithm"] == "fedavg" and both.network["load_average"] >= 0
    capsys.readouterr()
