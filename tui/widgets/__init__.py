"""Widgets of the session screen, one per module."""
