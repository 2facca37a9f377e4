"""ownercomm kit: audit how a car dealer's customers are messaged (see SPEC)."""

__version__ = "0.1.0"
