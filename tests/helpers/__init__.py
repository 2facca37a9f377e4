"""Shared test helpers: dealers, folders, kits and page checks built for the tests."""
