"""The worked examples of recycling and labelled purchases, as the README lists them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.rules import registry
from app.rules.base import Context

recycling = registry.get("recycling")
purchase = registry.get("purchase.labelled_product")


def recycle(material: str, kg: str | int, *, trusted: bool = True, params=None):
    assert recycling is not None
    data = recycling.Input.model_validate({"material": material, "weight_kg": kg})
    return recycling.evaluate(data, params or recycling.Params(), Context(trusted=trusted))


@pytest.mark.parametrize(
    ("material", "kg", "grams"),
    [
        ("paper", 10, 39132),  # 10 × 3.55 × 1 000 000 ÷ 907.18474 = 39 132.05
        ("plastic", 3, 3075),  # 3 × 0.93 → 3 075.45
        ("metal", 2, 9678),  # 2 × 4.39 → 9 678.29
        ("glass", 5, 1543),  # 5 × 0.28 → 1 543.24
        ("textile", 4, 10494),  # 4 × 2.38 → 10 494.00
        ("e_waste", 8, 6966),  # 8 × 0.79 → 6 966.61
    ],
)
def test_recycling_worked_examples_use_the_warm_factor_converted_exactly(material, kg, grams):
    r = recycle(material, kg)
    assert (r.reduction_g, r.reasons, r.needs_review) == (grams, [], False)
    assert r.breakdown["kg_per_short_ton"] == "907.18474"
    assert "WARM" in r.breakdown["source"]


def test_recycling_breakdown_names_the_source_and_says_the_defaults_are_not_yet_checked():
    r = recycle("textile", 4)
    assert r.breakdown["source_material"].startswith("Carpet (a stand-in")
    assert "Carpet" in r.breakdown["source_document"]
    assert r.breakdown["factor_checked_against_source"] is False
    assert "not yet checked" in r.breakdown["source"]
    paper = recycle("paper", 1).breakdown
    assert paper["source_material"] == "Mixed Paper (general)"
    assert "Exhibit 3-7" in paper["source_document"]
    checked = recycling.Params(factors_checked=True)
    assert recycle("paper", 1, params=checked).breakdown["factor_checked_against_source"] is True


@pytest.mark.parametrize(
    ("material", "chapter"),
    [
        ("glass", "chapter 1 (Glass, from p. 1-1)"),
        ("metal", "chapter 2 (Metals, from p. 2-1)"),
        ("paper", "chapter 3 (Paper Products, from p. 3-1)"),
        ("plastic", "chapter 5 (Plastics, from p. 5-1)"),
    ],
)
def test_recycling_breakdown_names_the_chapter_and_its_first_page_in_the_packaging_document(
    material, chapter
):
    document = recycle(material, 1).breakdown["source_document"]
    assert "Non-Durable Good Materials Chapters, November 2020" in document
    assert chapter in document


def test_recycling_breakdown_shows_the_factor_and_its_conversion_to_grams_per_kg():
    r = recycle("paper", "10")
    assert r.breakdown["factor_t_co2e_per_short_ton"] == "3.55"
    assert r.breakdown["g_per_kg"] == "3913.2052"
    assert r.breakdown["exact_g"] == "39132.0515"


def test_recycling_rounds_down_and_bounds_weight_per_material():
    assert recycle("glass", "0.001").reduction_g == 0  # 0.3086 g
    assert recycle("paper", 100).reasons == []
    assert recycle("paper", "100.001").reasons == ["implausible_amount"]
    assert recycle("plastic", 51).reasons == ["implausible_amount"]
    assert recycle("e_waste", 100).reasons == []


def test_self_reported_recycling_waits_for_review_partner_reported_does_not():
    assert recycle("metal", 1, trusted=False).needs_review is True
    assert recycle("metal", 1, trusted=True).needs_review is False


def test_a_new_version_of_one_factor_changes_only_that_material():
    assert recycling is not None
    params = recycling.Params(factor_glass=Decimal("0.30"))
    assert recycle("glass", 5, params=params).reduction_g == 1653  # 5 × 0.30 → 1 653.47
    assert recycle("paper", 10, params=params).reduction_g == 39132


def test_unknown_materials_and_non_positive_weights_are_refused_by_the_schema():
    from pydantic import ValidationError

    assert recycling is not None
    for bad in ({"material": "wood", "weight_kg": 1}, {"material": "paper", "weight_kg": 0}):
        with pytest.raises(ValidationError):
            recycling.Input.model_validate(bad)


LABEL = {
    "in_force": True,
    "name": "Low-carbon oat milk 1 L",
    "label_id": "CL-2026-0001",
    "certifier": "Example Certification Centre",
    "source": "Carbon label CL-2026-0001, product carbon footprint vs conventional",
    "reduction_g_per_unit": "350",
    "valid_from": None,
    "valid_until": None,
}


def buy(quantity: int, product: dict | None = LABEL, *, trusted: bool = True):
    assert purchase is not None
    data = purchase.Input.model_validate({"product_id": "p1", "quantity": quantity})
    facts = {"product": product} if product is not None else {}
    return purchase.evaluate(data, purchase.Params(), Context(trusted=trusted, facts=facts))


def test_labelled_purchase_is_the_label_value_times_quantity_and_names_the_label():
    r = buy(2)
    assert (r.reduction_g, r.reasons, r.needs_review) == (700, [], False)
    assert r.breakdown["label_id"] == "CL-2026-0001"
    assert r.breakdown["certifier"] == "Example Certification Centre"
    assert r.breakdown["source"].startswith("Carbon label CL-2026-0001")


def test_labelled_purchase_rounds_down():
    assert buy(3, {**LABEL, "reduction_g_per_unit": "12.5"}).reduction_g == 37


def test_labelled_purchase_outside_its_label_or_over_the_bound_is_refused():
    assert buy(1, {**LABEL, "in_force": False}).reasons == ["product_not_valid"]
    assert buy(1, None).reasons == ["product_not_valid"]
    assert buy(51).reasons == ["implausible_amount"]


def test_self_reported_purchase_waits_for_review():
    assert buy(1, trusted=False).needs_review is True
