"""Identifiers and an instant the rewards examples share, so that the examples in the document
fit together (an incentive's ``merchant_id`` is the example merchant's ``id``)."""

TIME = "2026-11-23T08:30:00+00:00"
INCENTIVE_ID = "9b2d7c1e-4f0a-4d3b-8e61-0c5f2a7d9e14"
MERCHANT_ID = "5e8a3f20-1c7b-4a92-b0d4-6f1e2c3a4b5d"
