"""Rewards over HTTP: the citizen's catalogue and redemptions (``incentives``), the merchant's
desk (``merchant_desk``) and the administration of merchants and their staff (``admin``)."""

from fastapi import APIRouter

from app.routers.rewards import admin, incentives, merchant_desk

router = APIRouter()
router.include_router(incentives.router)
router.include_router(merchant_desk.router)
router.include_router(admin.router)
