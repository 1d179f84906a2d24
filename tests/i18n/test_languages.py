"""A citizen whose phone is set to Chinese reads every message in Chinese; codes stay the same."""

from __future__ import annotations

import pytest

from tests.helpers import assert_problem, citizen
from tests.records.helpers import post
from tests.redemptions.helpers import give_points, open_shop, publish, redeem

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def test_a_record_a_redemption_and_errors_in_chinese(app, client):
    me = await citizen(client)
    me.headers.update(ZH)

    r = await post(
        me, "energy.electricity_saving", {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1}
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-language"] == "zh-CN"
    record = r.json()
    assert record["reasons"] == ["needs_review"]
    assert chinese(record["reason_descriptions"][0]["description"])
    assert record["reason_descriptions"][0]["reason"] == "needs_review"

    detail = (await me.get(f"/v1/events/{record['id']}")).json()["breakdown"]
    assert chinese(detail["formula"]) and detail["rounding"] == "向下取整到克"
    assert (detail["baseline_kwh"], detail["actual_kwh"]) == ("10", "8")  # numbers as stored
    english = (await me.get(f"/v1/events/{record['id']}", headers={"Accept-Language": "en"})).json()
    assert english["breakdown"]["rounding"] == "down to whole grams"

    bad = await post(me, "cycling", {"distance_km": -1, "duration_min": 10})
    problem = assert_problem(bad, 422, "validation_error")
    assert chinese(problem["title"]) and chinese(problem["detail"])
    assert all(chinese(e["message"]) for e in problem["errors"]), problem["errors"]
    assert {e["field"] for e in problem["errors"]} == {"data.distance_km"}

    shop = await open_shop(app, client)
    incentive = await publish(shop.staff, points_cost=500)
    short = await redeem(me, incentive["id"])
    problem = assert_problem(short, 409, "insufficient_points")
    assert problem["title"] == "积分不足" and chinese(problem["detail"])

    await give_points(app, me.id, 800)
    issued = await redeem(me, incentive["id"])
    assert issued.status_code == 201, issued.text
    lines = (await me.get("/v1/account/transactions")).json()["items"]
    assert [line["kind"] for line in lines] == ["hold", "credit"]
    assert lines[0]["description"] == "兑换码冻结积分"
    assert lines[0]["redemption_id"] == issued.json()["id"] and lines[0]["record_id"] is None
    assert all(chinese(line["description"]) for line in lines)

    methodologies = (await me.get("/v1/methodologies")).json()["items"]
    assert all(chinese(m["name"]) and chinese(m["description"]) for m in methodologies)

    gone = await me.get("/v1/events/not-a-record")
    assert chinese(assert_problem(gone, 404, "not_found")["detail"])


async def test_english_by_default_and_by_preference(client):
    me = await citizen(client)
    r = await me.get("/v1/methodologies")
    assert r.headers["content-language"] == "en"
    assert {m["name"] for m in r.json()["items"]} >= {"Walking", "Metro ride"}

    r = await me.get("/v1/methodologies", headers={"Accept-Language": "zh-CN;q=0.3, en"})
    assert r.headers["content-language"] == "en"
    assert "accept-language" in r.headers["vary"].lower()

    signed_out = await client.get("/v1/account", headers={"Accept-Language": "zh"})
    problem = assert_problem(signed_out, 401, "unauthorized")
    assert problem["reason"] == "token_missing" and chinese(problem["detail"])
    assert signed_out.headers["content-language"] == "zh-CN"


@pytest.mark.parametrize("settings_overrides", [{"default_language": "zh-CN"}])
async def test_the_default_language_is_a_setting(client, settings_overrides):
    r = await client.get("/v1/methodologies", headers={"Accept-Language": "fr-FR"})
    assert r.headers["content-language"] == "zh-CN"
    assert all(chinese(m["name"]) for m in r.json()["items"])
