"""Plumbing shared by every domain: one cursor codec and page shape, one input guard."""
