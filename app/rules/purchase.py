"""Carbon-labelled purchases: ER = the product's labelled reduction per unit × quantity.

The value per unit is the one printed on the product's carbon label: the certifier's
comparison of the product against the conventional one it replaces. It lives in the product
catalogue with the label id, the certifier and the source; the record path looks the product
up and hands it to ``evaluate`` as ``ctx.facts["product"]``, so this module stays pure.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field

from app.rules.base import BaseParams, Context, Record, Result, dec, floor_grams

CODE = "purchase.labelled_product"


class PurchaseInput(Record):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"product_id": "5f0c6a1e-2b7d-4c1a-9a53-0d1f4b2e8c71", "quantity": 2}]
        }
    )

    product_id: str = Field(min_length=1, max_length=36, description="A catalogue product id")
    quantity: int = Field(ge=1, le=1000, description="Units bought")


class PurchaseParams(BaseParams):
    daily_cap_points: int | None = Field(
        default=5000,
        ge=0,
        le=1_000_000,
        description="Most points per user and local day from labelled purchases",
    )
    max_quantity: int = Field(
        default=50, ge=1, le=1000, description="Most units of one product in one purchase"
    )
    self_reported_needs_review: bool = Field(
        default=True,
        description="A purchase the citizen reports without a till or a retail partner waits "
        "for an administrator",
    )


class LabelledPurchase:
    code = CODE
    name = "Carbon-labelled product purchase"
    description = (
        "A purchase of a product with a carbon label, counted by the label's value per unit."
    )
    unit = "g CO2e per unit, from the product's carbon label"
    Input = PurchaseInput
    Params = PurchaseParams

    def duration(self, data: PurchaseInput) -> timedelta | None:
        return None

    def evaluate(self, data: PurchaseInput, params: Any, ctx: Context) -> Result:
        p: PurchaseParams = params
        reasons = []
        product = ctx.facts.get("product")
        if product is None or not product.get("in_force"):
            reasons.append("product_not_valid")
        if data.quantity > p.max_quantity:
            reasons.append("implausible_amount")
        per_unit = Decimal(product["reduction_g_per_unit"]) if product else Decimal(0)
        exact = per_unit * data.quantity
        grams = floor_grams(exact)
        breakdown: dict[str, Any] = {
            "formula": "ER = reduction_g_per_unit (carbon label) × quantity",
            "product_id": data.product_id,
            "quantity": data.quantity,
            "max_quantity": p.max_quantity,
            "exact_g": dec(exact),
            "reduction_g": grams,
            "rounding": "down to whole grams",
        }
        if product:
            breakdown.update(
                {
                    "product_name": product["name"],
                    "label_id": product["label_id"],
                    "certifier": product["certifier"],
                    "source": product["source"],
                    "reduction_g_per_unit": dec(per_unit),
                    "label_valid_from": product.get("valid_from"),
                    "label_valid_until": product.get("valid_until"),
                }
            )
        return Result(grams, reasons, p.self_reported_needs_review and not ctx.trusted, breakdown)
