"""The family study: frozen grids, a fit that recovers the statement, LOFO splits, verdicts, the store."""

from __future__ import annotations

import itertools
import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import sympy as sp

from calibration import family_fit, family_study
from calibration.family_grid import (
    DEFAULT_DEPTHS,
    DEV_DEPTH_VARIANTS,
    DEV_SETTINGS,
    DEV_WIDTHS,
    FAMILIES,
    FIT_SETS,
    KERAS_SETTINGS,
    PUBLISHED_TEST,
    SETS,
    TEST3_MODELS,
    TEST3_SETTINGS,
    TEST4_MODELS,
    TEST4_SETTINGS,
    TEST5_MODELS,
    TEST5_SETTINGS,
    TEST6_MODELS,
    TEST6_SETTINGS,
    TEST7_MODELS,
    TEST7_SETTINGS,
    TEST_SETS,
    TEST_SETTINGS,
    TEST_WIDTHS,
    VISIT_COLUMNS,
    Configuration,
    configurations,
    shape_label,
)
from calibration.fit.rows import statement_of
from costmodel.errors import InputError
from costmodel.model.events import column
from costmodel.model.quantities import sym
from costmodel.report.family_tables import FamilyStudy, family_block, load_family_study

# --------------------------------------------------------------------------- the grids


def test_the_grids_have_the_stated_sizes_and_no_test_grid_shares_a_configuration_or_a_model_with_dev():
    dev, test1, test2 = configurations("dev"), configurations("test1"), configurations("test2")
    assert len(dev) == 5 * 4 * 2 * 6 + 4 * 2 * 2 * 4 == 304
    assert len(test1) == (3 + 2 + 3 + 3 + 3) * 2 * 8 + 2 * 4 == 232
    assert len(test2) == 5 * 2 * 2 * 8 == 160
    for test in (test1, test2):
        assert not {c.key for c in dev} & {c.key for c in test}
        assert not {c.model_key for c in dev} & {c.model_key for c in test}
    assert not {c.model_key for c in test1} & {c.model_key for c in test2}
    for family in FAMILIES:
        assert len(DEV_WIDTHS[family]) == 4 and 2 <= len(TEST_WIDTHS[family]) <= 3
        assert not set(DEV_WIDTHS[family]) & set(TEST_WIDTHS[family])
        # test2: no development width, and no depth any development model of the family has
        dev_depths = {c.layers for c in dev if c.family == family}
        test2_models = {(c.width, c.layers) for c in test2 if c.family == family}
        assert len(test2_models) == 2
        assert not {w for w, _ in test2_models} & set(DEV_WIDTHS[family])
        if family in DEFAULT_DEPTHS:                      # the TPDS layout has no depth (0)
            assert not {d for _, d in test2_models} & dev_depths
        assert {c.model for c in test2 if c.family == family} == {family}
    # the depth variants are development widths at depths besides the default
    for family, variants in DEV_DEPTH_VARIANTS.items():
        assert all(w in DEV_WIDTHS[family] and d != DEFAULT_DEPTHS[family] for w, d in variants)
        assert {c.layers for c in dev if c.family == family} == {DEFAULT_DEPTHS[family], *(d for _, d in variants)}
    assert {c.layers for c in dev if c.family == "scaled"} == {0}
    # both test grids have batch sizes and sample counts the development grid never ran
    assert {b for b, _ in TEST_SETTINGS} - {b for b, _ in DEV_SETTINGS} == {12, 20}
    assert {m for _, m in TEST_SETTINGS} - {m for _, m in DEV_SETTINGS} == {100, 200}
    assert {(c.batch_size, c.samples) for c in test2} == set(TEST_SETTINGS)
    keras = [c for c in test1 if c.model == "keras-cifar"]
    assert len(keras) == 8 and {(c.batch_size, c.samples) for c in keras} == set(KERAS_SETTINGS)
    assert {c.family for c in keras} == {"scaled"} and not any(c.model == "keras-cifar" for c in (*dev, *test2))
    with pytest.raises(InputError, match="'set' must be one of dev, test1, test2, test3, test4, test5, test6, test7"):
        configurations("train")


def test_the_published_test_grid_has_no_model_any_other_grid_built_and_settings_dev_never_ran():
    """test7, frozen after test6 was read: not even another width that rounds to a model an earlier grid built
    (a ViT's width is rounded to its head size); test3 to test6 had none either."""
    from calibration.family_measure import build
    from reference_impl.models.counting import architecture_key

    def built(configs):
        return {(architecture_key(build(c)), c.sample_shape) for c in {c.model_key: c for c in configs}.values()}

    dev = configurations("dev")
    earlier = built([*dev, *configurations("test1"), *configurations("test2")])
    test3, test4, test5 = configurations("test3"), configurations("test4"), configurations("test5")
    test6, test7 = configurations("test6"), configurations("test7")
    assert PUBLISHED_TEST == "test7" and TEST_SETS == ("test7",)
    assert FIT_SETS == ("dev", "test1", "test2", "test3", "test4", "test5", "test6")
    assert not set(FIT_SETS) & set(TEST_SETS)
    for grid, settings, models, batches, counts in ((test3, TEST3_SETTINGS, TEST3_MODELS, {10, 24}, {80, 160}),
                                                    (test4, TEST4_SETTINGS, TEST4_MODELS, {14, 28}, {120, 180}),
                                                    (test5, TEST5_SETTINGS, TEST5_MODELS, {18, 40}, {96, 150}),
                                                    (test6, TEST6_SETTINGS, TEST6_MODELS, {22, 36}, {72, 140}),
                                                    (test7, TEST7_SETTINGS, TEST7_MODELS, {26, 44}, {88, 176})):
        assert len(grid) == 5 * 2 * 2 * 6 == 120
        assert {(c.batch_size, c.samples) for c in grid} == set(settings)
        assert {b for b, _ in settings} - {b for b, _ in DEV_SETTINGS} == batches
        assert {m for _, m in settings} - {m for _, m in DEV_SETTINGS} == counts
        assert {c.family for c in grid} == set(FAMILIES) and all(len(models[f]) == 2 for f in FAMILIES)
        # no batch of one sample reaches a BatchNorm (m % B == 1: module reference_impl.models.families)
        assert all(c.samples % c.batch_size != 1 for c in grid)
    assert not built(test3) & earlier
    assert not built(test4) & (earlier | built(test3))
    assert not built(test5) & (earlier | built(test3) | built(test4))
    assert not built(test6) & (earlier | built(test3) | built(test4) | built(test5))
    assert not built(test7) & (earlier | built(test3) | built(test4) | built(test5) | built(test6))
    # test7's settings are new to every earlier grid, not only to the development one
    earlier_settings = {(c.batch_size, c.samples) for s in FIT_SETS for c in configurations(s)}
    assert {b for b, _ in TEST7_SETTINGS} - {b for b, _ in earlier_settings} == {26, 44}
    assert {m for _, m in TEST7_SETTINGS} - {m for _, m in earlier_settings} == {88, 176}


def test_a_configuration_s_default_depth_is_the_family_s_and_builds_the_model_it_names():
    from calibration.family_measure import build
    from reference_impl.models import build_model, count_parameters
    from reference_impl.models.families import resnet

    implicit = Configuration("dev", "resnet", "resnet", 0.5, (1, 28, 28), 47, 8, 64)
    explicit = Configuration("dev", "resnet", "resnet", 0.5, (1, 28, 28), 47, 8, 64, depth=1)
    assert implicit.layers == explicit.layers == 1 and implicit.model_key == explicit.model_key
    assert count_parameters(build(implicit)) == count_parameters(
        build_model("resnet", sample_shape=(1, 28, 28), num_classes=47, width=0.5))
    deeper = Configuration("dev", "resnet", "resnet", 0.5, (1, 28, 28), 47, 8, 64, depth=3)
    assert count_parameters(build(deeper)) == count_parameters(resnet(0.5, (1, 28, 28), 47, blocks=3))
    assert Configuration("test1", "scaled", "keras-cifar", 1.0, (3, 32, 32), 10, 8, 64).layers == 0


# --------------------------------------------------------------------------- synthetic data from the statement

#: Per family: params, FLOPs, conv input values, element-wise values per sample at width 1; autograd
#: nodes and spatial conv calls per step (fixed depth: constant within a family, as in the real ones);
#: padding FLOPs per sample at width 1 (they shrink as the channels widen towards whole blocks).
_BASE = {"mlp": (280e3, 1.3e6, 0, 1.2e3, 16, 0, 0.0), "scaled": (69e3, 1.0e6, 3.0e3, 7.8e3, 25, 6, 4.1e6),
         "resnet": (80e3, 56e6, 73e3, 170e3, 63, 14, 20e6), "mobilenet": (146e3, 21e6, 58e3, 127e3, 74, 12, 2.4e6),
         "vit": (74e3, 24e6, 784, 113e3, 95, 2, 1.7e6)}


def _synthetic_visits() -> pd.DataFrame:
    """Visits of hand-made models on both grids' kinds of settings, 3 rounds each, seconds to be filled."""
    rows = []
    for family, (p, f, vc, ve, nodes, calls, pad) in _BASE.items():
        for set_name, widths, settings in (("dev", (0.5, 1.0, 2.0, 4.0), DEV_SETTINGS),
                                           ("test7", (1.125, 2.875), TEST7_SETTINGS),
                                           ("test6", (1.625, 3.25), TEST6_SETTINGS),
                                           ("test5", (0.875, 2.75), TEST5_SETTINGS),
                                           ("test4", (0.625, 2.25), TEST4_SETTINGS),
                                           ("test3", (1.25, 3.5), TEST3_SETTINGS),
                                           ("test2", (1.5, 3.0), TEST_SETTINGS), ("test1", (2.5,), TEST_SETTINGS)):
            for width, (batch, samples), r in itertools.product(widths, settings, range(3)):
                rows.append(dict(set=set_name, family=family, model=family, width=width, depth=1,
                                 sample_shape="1x28x28",
                                 num_classes=47, batch_size=batch, samples=samples, steps=math.ceil(samples / batch),
                                 round=r, position=0, seconds=0.0, wall_seconds=0.0, params=p * width ** 2,
                                 train_flops_per_sample=f * width ** 2, conv_input_values=vc * width,
                                 elementwise_values=ve * width, autograd_nodes=nodes, conv_calls=calls,
                                 conv_padding_flops=pad / width))
    return pd.DataFrame(rows, columns=list(VISIT_COLUMNS))


def _statement_seconds(visits: pd.DataFrame) -> tuple[np.ndarray, dict[str, float]]:
    """Seconds of each visit from the statement's sympy expression at coefficients chosen so every
    exercised term is of the order of a millisecond at a typical configuration; the chosen parameters
    (``1/x`` for an inverse coefficient) by :func:`family_fit.coefficient_names`."""
    statement = statement_of(family_fit.GROUP)
    events = family_fit.event_rows(visits)
    symbols = [column(name) for name in statement.columns]
    values = [events[trace].to_numpy(float) for trace in statement.columns.values()]
    regressors = statement.regressors()
    chosen: dict[str, float] = {}
    coefficients: dict[sp.Symbol, float] = {}
    for j, name in enumerate(statement.linear_coefficients):
        term = np.broadcast_to(sp.lambdify(symbols, regressors[name], "numpy")(*values), (len(visits),))
        typical = float(np.median(term[term > 0])) if np.any(term > 0) else 1.0
        parameter = 1e-3 * (1.0 + 0.37 * j) / typical
        inverse = name in statement.inverse
        chosen[f"1/{name}" if inverse else name] = parameter
        coefficients[sym(name)] = 1.0 / parameter if inverse else parameter
    seconds = sp.lambdify(symbols, statement.seconds.xreplace(coefficients), "numpy")(*values)
    return np.broadcast_to(seconds, (len(visits),)).astype(float), chosen


def test_a_configuration_becomes_an_event_with_the_visit_s_counts():
    table = pd.DataFrame([dict(samples=100, steps=9, params=500, train_flops_per_sample=1000.0, conv_input_values=7,
                               elementwise_values=11, autograd_nodes=13, conv_calls=2, conv_padding_flops=170.0)])
    events = family_fit.event_rows(table).iloc[0].to_dict()
    assert events == dict(flops=100_000.0, samples=100.0, steps=9.0, params=500.0, conv_input_values=7.0,
                          elementwise_values=11.0, autograd_nodes=13.0, conv_calls=2.0, conv_padding_flops=170.0,
                          proximal=0.0)


def test_a_dataset_made_from_the_statement_is_recovered_and_every_family_predicted_exactly():
    visits = _synthetic_visits()
    seconds, chosen = _statement_seconds(visits)
    visits["seconds"] = seconds
    configurations_ = family_fit.configuration_table(visits)
    assert len(configurations_) == len(visits) // 3 and (configurations_["noise"] == 0).all()
    table, fits = family_fit.family_table(configurations_)
    assert list(table["test_set"]) == ["test7"] * 5
    assert list(table["family"]) == list(FAMILIES)
    unexercised = family_fit.unexercised_parameters(configurations_)
    for name, value in chosen.items():
        if name not in unexercised:
            assert fits["all families"][name] == pytest.approx(value, rel=1e-6), name
    for error in ("fit_dev_mape_pct", "in_family_test_mape_pct", "lofo_dev_mape_pct", "lofo_test_mape_pct",
                  "lofo_test_max_pct"):
        assert (table[error] < 1e-5).all(), error
    assert (table["verdict"] == "pass").all()
    # every looked-at grid is fitted on: dev 4 x 6, test6 to test3 2 x 6, test2 2 x 8, test1 1 x 8 per family
    assert table["dev_configurations"].tolist() == [4 * 6 + 4 * (2 * 6) + 2 * 8 + 8] * 5
    assert table["test_models"].tolist() == [2] * 5


def test_the_lofo_fits_never_see_the_family_they_predict(monkeypatch):
    visits = _synthetic_visits()
    visits["seconds"] = _statement_seconds(visits)[0]
    seen: list[set[str]] = []
    original = family_fit.fit_coefficients

    def spy(table: pd.DataFrame) -> np.ndarray:
        seen.append(set(table["family"]))
        assert set(table["set"]) == set(FIT_SETS)     # every looked-at grid, never the test grid
        return original(table)

    monkeypatch.setattr(family_fit, "fit_coefficients", spy)
    table, fits = family_fit.family_table(family_fit.configuration_table(visits))
    assert seen[0] == set(FAMILIES)
    assert seen[1:] == [set(FAMILIES) - {family} for family in FAMILIES]
    assert list(fits) == ["all families", *(f"without {family}" for family in FAMILIES)]


def test_a_wrong_rate_in_one_family_shows_in_its_own_errors_only_where_it_is_predicted():
    visits = _synthetic_visits()
    visits["seconds"] = _statement_seconds(visits)[0] * np.where(visits["family"] == "vit", 1.3, 1.0)
    table, _ = family_fit.family_table(family_fit.configuration_table(visits))
    for test_set in TEST_SETS:
        vit = table[table["test_set"] == test_set].set_index("family").loc["vit"]
        # fitted without vit, every vit visit comes out 1/1.3 of what it measures: 23.1% low
        assert vit["lofo_test_mape_pct"] == pytest.approx(100 * (1 - 1 / 1.3), rel=1e-4)
        assert vit["verdict"] == "fail: LOFO above target"


# --------------------------------------------------------------------------- the verdict


@pytest.mark.parametrize(("in_family", "lofo", "expected"), [
    (9.9, 14.9, "pass"), (10.0, 15.0, "pass"), (10.1, 3.0, "fail: in-family above target"),
    (2.0, 15.01, "fail: LOFO above target"), (12.0, 40.0, "fail: in-family and LOFO above target"),
    (math.nan, 3.0, "not measured"), (3.0, math.nan, "not measured")])
def test_the_verdict_rule(in_family, lofo, expected):
    assert family_fit.verdict(in_family, lofo) == expected


def test_mape_is_the_mean_absolute_relative_error():
    assert family_fit.mape_percent(np.array([1.1, 0.8, 1.0]), np.array([1.0, 1.0, 1.0])) == pytest.approx((10.0, 20.0))
    assert all(math.isnan(v) for v in family_fit.mape_percent(np.array([]), np.array([])))


# --------------------------------------------------------------------------- the store


def _stored_visits(folder) -> pd.DataFrame:
    visits = _synthetic_visits()
    rng = np.random.default_rng(3)
    visits["seconds"] = _statement_seconds(visits)[0] * rng.lognormal(0.0, 0.03, len(visits))
    folder.mkdir(parents=True, exist_ok=True)
    visits.to_csv(folder / "visits.csv", index=False)
    return visits


def test_from_stored_rebuilds_the_table_and_keeps_the_measurement_record(tmp_path, capsys):
    source = tmp_path / "source"
    _stored_visits(source)
    record = {"sets": ["dev", "test2"], "created": "x", "command": "c", "rounds": 3, "configurations": 140,
              "wall_seconds": 61.0, "load_before": [1.0, 1.0, 1.0], "load_after": [1.0, 1.0, 1.0], "machine": {}}
    (source / "study.json").write_text(json.dumps({"schema_version": 1, "measured": [record], "fit": {}}))
    out = tmp_path / "out"
    assert family_study.main(["--from-stored", str(source / "visits.csv"), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    table = pd.read_csv(out / "lofo.csv")
    expected, _ = family_fit.family_table(family_fit.configuration_table(family_study.read_visits(out / "visits.csv")))
    pd.testing.assert_frame_equal(table[["test_set", "family", "verdict"]], expected[["test_set", "family", "verdict"]])
    np.testing.assert_allclose(table["lofo_test_mape_pct"], expected["lofo_test_mape_pct"], rtol=1e-5)
    study = json.loads((out / "study.json").read_text())
    assert study["measured"] == [record]
    assert study["fit"]["group"] == "local_training" and set(study["fit"]["parameters"]) == {
        "all families", *(f"without {f}" for f in FAMILIES)}
    stored = load_family_study(out)
    assert stored is not None
    block = family_block(stored)
    assert all(f"| {family} (" in block for family in FAMILIES) and "of 5 families pass" in block


def test_a_re_measured_published_grid_keeps_its_earlier_verdicts_on_record(tmp_path):
    def record(created, sets):
        return {"sets": sets, "created": created, "command": f"measure {created}", "rounds": 5,
                "configurations": 1, "wall_seconds": 1.0, "load_before": [1.0] * 3, "load_after": [1.0] * 3,
                "machine": {}}

    source = tmp_path / "v"
    visits = _stored_visits(source)
    table, study = family_study.rebuild(family_study.read_visits(source / "visits.csv"),
                                        family_study.read_study(None), command="test")
    first = {**study, "measured": [record("A", ["dev", PUBLISHED_TEST])]}
    # a rebuild of the same measurement (another statement) archives nothing
    assert family_study.earlier_tables(first, table, first) == []
    # another measurement of the published grid archives the first one's rows of it, once
    second = {**study, "measured": [record("B", ["dev", "test1", PUBLISHED_TEST])]}
    earlier = family_study.earlier_tables(first, table, second)
    published = table[table["test_set"] == PUBLISHED_TEST]
    assert [(e["set"], e["measured"], e["command"]) for e in earlier] == [(PUBLISHED_TEST, "A", "measure A")]
    assert [r["family"] for r in earlier[0]["rows"]] == list(published["family"])
    assert [r["verdict"] for r in earlier[0]["rows"]] == list(published["verdict"])
    assert earlier[0]["statement"] == study["fit"]["seconds"]
    assert family_study.earlier_tables({**first, "earlier": earlier}, table, second) == earlier
    # a measurement of other grids only keeps the published grid's record (module _measured): nothing archived
    others = {**study, "measured": family_study._measured(first["measured"], record("C", ["test1"]))}
    assert family_study.earlier_tables(first, table, others) == []
    # through the command: the destination's verdicts move to 'earlier', and the block prints them
    out = tmp_path / "out"
    out.mkdir()
    family_study.write_study(out, visits, table, first)
    source_study = {**second, "fit": {}}
    (source / "study.json").write_text(json.dumps(source_study))
    assert family_study.main(["--from-stored", str(source / "visits.csv"), "--out", str(out)]) == 0
    stored = load_family_study(out)
    assert [e["measured"] for e in stored.study["earlier"]] == ["A"]
    block = family_block(stored)
    assert f"`{PUBLISHED_TEST}` measured earlier (A, `measure A`;" in block
    assert block.index("| vit (attention) |") < block.index("measured earlier")


def test_a_retired_test_grid_keeps_the_table_it_was_published_with(tmp_path):
    """When another grid becomes the published test, the previous one's published rows move to 'earlier', with
    the grids that table was fitted on; a later rebuild does not archive them twice."""
    source = tmp_path / "v"
    visits = _stored_visits(source)
    table, study = family_study.rebuild(family_study.read_visits(source / "visits.csv"),
                                        family_study.read_study(None), command="test")
    record = {"sets": ["dev", "test4"], "created": "T4", "command": "measure T4", "rounds": 5, "configurations": 1,
              "wall_seconds": 1.0, "load_before": [1.0] * 3, "load_after": [1.0] * 3, "machine": {}}
    old_table = table.assign(test_set="test4")
    old = {**study, "measured": [record], "fit": {**study["fit"], "fit_sets": [],
                                                  "test_sets": [{"set": "test4", "published": True}]}}
    new = {**study, "measured": [record]}
    earlier = family_study.earlier_tables(old, old_table, new)
    assert [(e["set"], e["measured"], e["retired"], e["fitted_on"]) for e in earlier] == [("test4", "T4", True,
                                                                                           ["dev"])]
    assert [r["verdict"] for r in earlier[0]["rows"]] == list(table["verdict"])
    assert family_study.earlier_tables({**old, "earlier": earlier}, old_table, new) == earlier
    block = family_block(FamilyStudy(table, {**new, "earlier": earlier}))
    assert "`test4` as it was published (T4, `measure T4`; fitted on `dev`; it has been looked at since" in block
    assert ("- development configurations (fitted on): the development grid `dev` and the looked-at grids:\n"
            "  - `test1`: ") in block


def test_a_failed_write_leaves_the_previous_table_and_no_temporary_file(tmp_path, monkeypatch):
    source = tmp_path / "v"
    _stored_visits(source)
    visits = family_study.read_visits(source / "visits.csv")
    table, study = family_study.rebuild(visits, family_study.read_study(None), command="test")
    out = tmp_path / "out"
    out.mkdir()
    family_study.write_study(out, visits, table, study)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    original = pd.DataFrame.to_csv

    def failing(self, path=None, *args, **kwargs):
        if "lofo" in os.fspath(path):
            raise OSError(28, "No space left on device")
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing)
    with pytest.raises(OSError):
        family_study.write_study(out, visits, table.assign(verdict="changed"), study)
    assert (out / "lofo.csv").read_bytes() == before["lofo.csv"]
    assert sorted(p.name for p in out.iterdir()) == ["lofo.csv", "study.json", "visits.csv"]


def test_bad_stored_files_are_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        family_study.main(["--from-stored", str(tmp_path / "missing.csv")])
    assert stop.value.code == 2
    assert "'visits' must be a stored visits file" in capsys.readouterr().err
    pd.DataFrame({"set": ["dev"]}).to_csv(tmp_path / "thin.csv", index=False)
    with pytest.raises(InputError, match="'visits' must have the columns"):
        family_study.read_visits(tmp_path / "thin.csv")
    (tmp_path / "study.json").write_text("[1]")
    with pytest.raises(InputError, match="'study.json' must be an object with a 'measured' list"):
        family_study.read_study(tmp_path)


def test_the_stored_table_is_what_the_stored_visits_give_under_the_current_statement():
    stored = load_family_study()
    if stored is None:
        pytest.skip("the family study is not stored yet")
    visits = family_study.read_visits(family_study.STORE / "visits.csv")
    assert {(r.set, r.model, r.width, r.depth, r.sample_shape, r.batch_size, r.samples)
            for r in visits.itertuples()} == {
        (c.set, c.model, c.width, c.layers, shape_label(c.sample_shape), c.batch_size, c.samples)
        for s in SETS for c in configurations(s)}
    table, _ = family_fit.family_table(family_fit.configuration_table(visits))
    assert list(stored.table["test_set"]) == list(table["test_set"]) == [s for s in TEST_SETS for _ in FAMILIES]
    assert [e["set"] for e in stored.study["fit"]["test_sets"] if e["published"]] == [PUBLISHED_TEST]
    assert list(stored.table["verdict"]) == list(table["verdict"]), \
        "rebuild it: python -m calibration.family_study --from-stored --store"
    np.testing.assert_allclose(stored.table["lofo_test_mape_pct"], table["lofo_test_mape_pct"], rtol=1e-4)
    np.testing.assert_allclose(stored.table["in_family_test_mape_pct"], table["in_family_test_mape_pct"], rtol=1e-4)
    assert set(stored.study["fit"]["parameters"]["all families"]) == set(family_fit.coefficient_names())


# --------------------------------------------------------------------------- the generated block


def test_the_block_prints_each_family_with_its_noise_and_the_verdict_count():
    row = dict(test_set="test2", family="mlp", dev_models=8, dev_configurations=48, test_models=6,
               test_configurations=48,
               noise_dev_pct=3.04, noise_test_pct=2.96, fit_dev_mape_pct=4.0, in_family_test_mape_pct=6.26,
               in_family_test_max_pct=19.6, lofo_dev_mape_pct=14.0, lofo_test_mape_pct=17.5, lofo_test_max_pct=33.3,
               in_family_target_pct=10.0, lofo_target_pct=15.0, verdict="fail: LOFO above target")
    other = {**row, "family": "vit", "lofo_test_mape_pct": 4.0, "verdict": "pass"}
    looked_at = {**row, "test_set": "test1", "in_family_test_mape_pct": 8.44, "lofo_test_mape_pct": 21.0,
                 "lofo_test_max_pct": 51.2}
    study = {"measured": [{"sets": ["test1"], "created": "2026-12-02 03:00 UTC", "command": "python -m y",
                           "rounds": 5, "configurations": 472, "wall_seconds": 511.0, "load_before": [2.5, 1, 1],
                           "load_after": [5.1, 1, 1], "machine": {}, "note": "with the earlier grid"},
                          {"sets": ["dev", "test2"], "created": "2026-12-02 04:00 UTC", "command": "python -m x",
                           "rounds": 5, "configurations": 472, "wall_seconds": 400.0, "load_before": [1.52, 1, 1],
                           "load_after": [2.0, 1, 1], "machine": {"cpu": "CPU", "torch_version": "2", "threads": 1}}],
             "fit": {"created": "d", "command": "c", "group": "local_training", "unexercised": ["b"],
                     "parameters": {"all families": {"a": 1.0, "b": 0.0}},
                     "fit_sets": [{"set": "dev", "note": ""}, {"set": "test3", "note": "seen before"}],
                     "test_sets": [{"set": "test2", "published": True, "note": ""},
                                   {"set": "test1", "published": False, "note": "a grid read before the change"}]}}
    text = family_block(FamilyStudy(pd.DataFrame([row, other, looked_at]), study))
    assert ("| mlp (dense only) | 8 / 6 | 6.3 (20) | 17.5 (33) | 3.0 | 14.0 | 4.0 | 3.0 "
            "| fail: LOFO above target |") in text
    assert "1 of 2 families pass" in text and "within 10% and LOFO within 15%" in text   # test2's rows only
    assert "dev and test2 grids: measured 2026-12-02 04:00 UTC on CPU" in text and "6 min 40 s wall" in text
    assert "- test1 grid: measured 2026-12-02 03:00 UTC" in text
    assert "after (`python -m y`); with the earlier grid." in text
    # test1 is printed apart, after test2's table, as not an unseen test
    assert text.index("| mlp (dense only) | 8 / 6 |") < text.index("not an unseen test")
    assert "| mlp | 6 | 8.4 (20) | 21.0 (51) | 3.0 | fail: LOFO above target |" in text
    assert "the same fits on `test1`, a grid read before the change, so these figures are not an unseen test" in text
    assert "load average 1.5 before, 2.0 after" in text and "(`a`; `b` not exercised, 0)" in text
    assert "(fitted on): the development grid `dev` and the looked-at grids:\n  - `test3`: seen before.\n" in text
    assert "Not measured yet" in family_block(None)
    study["fit"]["test_sets"][0]["published"] = False          # a study that names no published grid: one line
    with pytest.raises(InputError, match="must name one published test grid"):
        family_block(FamilyStudy(pd.DataFrame([row, other, looked_at]), study))


# --------------------------------------------------------------------------- a real measurement


def test_a_tiny_real_measurement_times_fresh_visits_and_records_the_features():
    from calibration import family_measure
    from calibration.family_grid import Configuration
    from reference_impl.models import build_model, model_features

    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"]            # set by the module unless preset
    grid = [Configuration("dev", "mlp", "mlp", 0.0625, (1, 28, 28), 47, 8, 20),
            Configuration("dev", "mlp", "mlp", 0.0625, (1, 28, 28), 47, 16, 20)]
    visits = family_measure.measure(grid, rounds=2, progress=False)
    assert list(visits.columns) == list(VISIT_COLUMNS) and len(visits) == 4
    assert sorted(visits["steps"]) == [2, 2, 3, 3] and (visits["seconds"] > 0).all()
    assert sorted(visits["round"]) == [0, 0, 1, 1] and set(visits["position"]) == {0, 1}
    features = model_features(build_model("mlp", sample_shape=(1, 28, 28), num_classes=47, width=0.0625),
                              (1, 28, 28), 47)
    assert (visits["params"] == features.params).all() and (visits["autograd_nodes"] == features.autograd_nodes).all()
    # every visit starts from the same weights: training writes into a copy, never into the start vector
    x, y = family_measure._data(grid)[((1, 28, 28), 47)]
    workload = family_measure.Workload(grid[0], x, y)
    start = workload.start.clone()
    workload.visit(20, 8)
    workload.visit(20, 8)
    assert bool((workload.start == start).all())


def test_measuring_with_nowhere_to_write_is_refused_before_any_visit(capsys):
    from calibration import family_study

    with pytest.raises(SystemExit) as stop:
        family_study.main(["--set", "dev", "--rounds", "1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'store' or 'out' must be given to measure" in err
