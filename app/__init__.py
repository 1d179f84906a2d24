"""Tanhui: backend of a carbon-inclusive (碳普惠) citizen rewards platform."""
