"""Communities over HTTP: organisations and their statistics (``organisations``), labelled
products and till purchases (``products``), public-good projects and donations
(``donations``)."""

from fastapi import APIRouter

from app.routers.communities import donations, organisations, products

router = APIRouter()
router.include_router(organisations.router)
router.include_router(products.router)
router.include_router(donations.router)
