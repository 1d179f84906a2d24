"""The methodologies as specifications: pure, so no database is needed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.rules import (
    Context,
    canonical_json,
    default_params,
    params_from_json,
    params_hash,
    points_for,
    registry,
    resolve,
)


def evaluate(code: str, data: dict, region: str | None = None, trusted: bool = False, **params):
    m = registry.get(code)
    assert m is not None
    p = m.Params(**params)
    return m.evaluate(m.Input.model_validate(data), p, Context(region=region, trusted=trusted))


@pytest.mark.parametrize(
    ("code", "data", "region", "grams"),
    [
        ("transit.metro", {"distance_km": 10, "duration_min": 20}, None, 467),
        ("transit.bus", {"distance_km": 10, "duration_min": 30}, None, 269),
        ("cycling", {"distance_km": 3, "duration_min": 12}, None, 120),
        ("walking", {"steps": 7250}, None, 145),
        (
            "energy.electricity_saving",
            {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1},
            "CN-SX",
            1272,
        ),
        (
            "energy.electricity_saving",
            {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1},
            "CN-GD",
            1061,
        ),
    ],
)
def test_worked_examples_of_methodologies_md(code, data, region, grams):
    result = evaluate(code, data, region)
    assert result.reduction_g == grams and result.reasons == []


def test_thirty_thousand_steps_reduce_600_g_but_walking_is_capped_at_296_points_a_day():
    result = evaluate("walking", {"steps": 30_000})
    assert result.reduction_g == 600
    assert registry.get("walking").Params().daily_cap_points == 296


def test_version_one_defaults_are_the_published_figures():
    d = {m.code: default_params(m) for m in registry.all_methodologies()}
    assert d["transit.metro"].reduction_g_per_pkm == Decimal("46.7")
    assert d["transit.bus"].reduction_g_per_pkm == Decimal("26.9")
    assert d["cycling"].reduction_g_per_km == Decimal(40)
    assert d["walking"].reduction_g_per_step == Decimal("0.02")
    assert d["energy.electricity_saving"].grid_ef_g_per_kwh == Decimal("530.6")
    assert [
        d[c].daily_cap_points for c in ("transit.metro", "transit.bus", "cycling", "walking")
    ] == [2000, 1500, 1200, 296]
    assert set(d["energy.electricity_saving"].regions) == {
        "CN-BJ",
        "CN-TJ",
        "CN-HE",
        "CN-SX",
        "CN-SD",
        "CN-NM",
    }
    assert all(p.points_per_g == 1 for p in d.values())


def test_reductions_round_down_to_whole_grams():
    assert evaluate("transit.metro", {"distance_km": "1.99", "duration_min": 5}).reduction_g == 92
    assert evaluate("walking", {"steps": 49}).reduction_g == 0


@pytest.mark.parametrize(
    ("code", "data", "reason"),
    [
        # metro: 5–80 km/h, ≤ 100 km
        ("transit.metro", {"distance_km": 5, "duration_min": 60}, None),
        ("transit.metro", {"distance_km": "4.99", "duration_min": 60}, "implausible_speed"),
        ("transit.metro", {"distance_km": 80, "duration_min": 60}, None),
        ("transit.metro", {"distance_km": "80.01", "duration_min": 60}, "implausible_speed"),
        ("transit.metro", {"distance_km": 100, "duration_min": 90}, None),
        ("transit.metro", {"distance_km": "100.1", "duration_min": 90}, "implausible_amount"),
        # bus: 3–60 km/h, ≤ 80 km
        ("transit.bus", {"distance_km": 3, "duration_min": 60}, None),
        ("transit.bus", {"distance_km": "2.9", "duration_min": 60}, "implausible_speed"),
        ("transit.bus", {"distance_km": 61, "duration_min": 60}, "implausible_speed"),
        ("transit.bus", {"distance_km": 81, "duration_min": 100}, "implausible_amount"),
        # cycling: ≤ 25 km/h, ≤ 60 km
        ("cycling", {"distance_km": 25, "duration_min": 60}, None),
        ("cycling", {"distance_km": "25.1", "duration_min": 60}, "implausible_speed"),
        ("cycling", {"distance_km": 61, "duration_min": 180}, "implausible_amount"),
        # walking: ≤ 50 000 steps, ≤ 200 steps/min with a duration
        ("walking", {"steps": 50_000}, None),
        ("walking", {"steps": 50_001}, "implausible_amount"),
        ("walking", {"steps": 2000, "duration_min": 10}, None),
        ("walking", {"steps": 2001, "duration_min": 10}, "implausible_speed"),
        # electricity: baseline ≤ 100 kWh per day of the period
        (
            "energy.electricity_saving",
            {"baseline_kwh": 300, "actual_kwh": 200, "period_days": 3},
            None,
        ),
        (
            "energy.electricity_saving",
            {"baseline_kwh": "300.1", "actual_kwh": 200, "period_days": 3},
            "implausible_amount",
        ),
    ],
)
def test_plausibility_bounds_are_inclusive(code, data, reason):
    assert evaluate(code, data).reasons == ([reason] if reason else [])


def test_plausibility_bounds_come_from_the_parameters():
    data = {"distance_km": 90, "duration_min": 60}
    assert evaluate("transit.metro", data).reasons == ["implausible_speed"]
    assert evaluate("transit.metro", data, max_speed_kmh=Decimal(120)).reasons == []


def test_self_reported_electricity_needs_review_but_a_trusted_partner_does_not():
    data = {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1}
    assert evaluate("energy.electricity_saving", data).needs_review
    assert not evaluate("energy.electricity_saving", data, trusted=True).needs_review
    assert not evaluate(
        "energy.electricity_saving", data, self_reported_needs_review=False
    ).needs_review


def test_using_more_electricity_than_the_baseline_saves_nothing():
    data = {"baseline_kwh": 8, "actual_kwh": 10, "period_days": 1}
    assert evaluate("energy.electricity_saving", data).reduction_g == 0


def test_breakdown_names_every_factor_and_intermediate():
    b = evaluate(
        "energy.electricity_saving",
        {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1},
        "CN-SX",
    ).breakdown
    assert b["grid_ef_g_per_kwh"] == "636.1" and b["saved_kwh"] == "2"
    assert b["exact_g"] == "1272.2" and b["reduction_g"] == 1272 and b["factor_region"] == "CN-SX"


@pytest.mark.parametrize(
    "data",
    [
        {"distance_km": -1, "duration_min": 10},
        {"distance_km": 0, "duration_min": 10},
        {"distance_km": 5},
        {"distance_km": 5, "duration_min": 10, "speed": 3},
        {"distance_km": "ten", "duration_min": 10},
    ],
)
def test_input_schema_refuses_nonsense(data):
    with pytest.raises(ValidationError):
        registry.get("transit.metro").Input.model_validate(data)


def test_regional_overrides_are_validated_by_name_and_bound():
    m = registry.get("energy.electricity_saving")
    with pytest.raises(ValidationError, match="cannot be set per region"):
        m.Params(regions={"CN-SX": {"no_such_factor": "1"}})
    with pytest.raises(ValidationError, match="greater than 0"):
        m.Params(regions={"CN-SX": {"grid_ef_g_per_kwh": "-5"}})
    with pytest.raises(ValidationError, match="ISO 3166-2"):
        m.Params(regions={"Shanxi": {"grid_ef_g_per_kwh": "700"}})
    p = m.Params(regions={"CN-SX": {"grid_ef_g_per_kwh": "709.6"}})
    assert resolve(p, "CN-SX").grid_ef_g_per_kwh == Decimal("709.6")
    assert resolve(p, "CN-BJ").grid_ef_g_per_kwh == Decimal("530.6")
    assert resolve(p, None) == p


def test_canonical_json_is_stable_and_round_trips():
    m = registry.get("transit.metro")
    a = m.Params(reduction_g_per_pkm=Decimal("46.70"))
    b = m.Params(reduction_g_per_pkm=Decimal("46.7"))
    assert canonical_json(a) == canonical_json(b) and params_hash(a) == params_hash(b)
    assert '"reduction_g_per_pkm":"46.7"' in canonical_json(a)
    for meth in registry.all_methodologies():
        p = default_params(meth)
        assert params_from_json(meth, canonical_json(p)) == p
    assert params_hash(m.Params(reduction_g_per_pkm=Decimal("50"))) != params_hash(b)


def test_points_follow_points_per_g_rounded_down():
    m = registry.get("walking")
    assert points_for(145, m.Params()) == 145
    assert points_for(145, m.Params(points_per_g=Decimal("0.5"))) == 72


def test_registry_lists_the_built_in_methodologies():
    assert [m.code for m in registry.all_methodologies()] == [
        "cycling",
        "energy.electricity_saving",
        "purchase.labelled_product",
        "recycling",
        "transit.bus",
        "transit.metro",
        "walking",
    ]
    assert registry.get("flying") is None


distances = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)


@given(
    distance=distances,
    minutes=st.integers(min_value=1, max_value=1440),
    code=st.sampled_from(["transit.metro", "transit.bus", "cycling"]),
)
def test_reduction_is_never_negative_and_scales_linearly_with_distance(distance, minutes, code):
    one = evaluate(code, {"distance_km": distance, "duration_min": minutes}).reduction_g
    two = evaluate(code, {"distance_km": distance * 2, "duration_min": minutes}).reduction_g
    assert one >= 0
    assert 2 * one <= two <= 2 * one + 1


@given(
    baseline=st.decimals(min_value=0, max_value=3000, places=1),
    actual=st.decimals(min_value=0, max_value=3000, places=1),
    region=st.sampled_from([None, "CN-SX", "CN-GD"]),
)
def test_electricity_reduction_is_never_negative(baseline, actual, region):
    r = evaluate(
        "energy.electricity_saving",
        {"baseline_kwh": baseline, "actual_kwh": actual, "period_days": 31},
        region,
    )
    assert r.reduction_g >= 0


def test_every_reason_a_methodology_gives_is_a_record_reason() -> None:
    """The rules import nothing, so they give reasons as plain strings; each must be one of
    the record's ``Reason`` codes, which the OpenAPI document lists."""
    import ast
    import pathlib

    from app.models.records import Reason

    given: set[str] = set()
    for path in pathlib.Path("app/rules").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "reasons"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                given.add(node.args[0].value)
    assert given == {"implausible_speed", "implausible_amount", "product_not_valid"}
    assert given <= {r.value for r in Reason}
