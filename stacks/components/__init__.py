"""Reusable constructs, each a noun that owns one logical unit with secure defaults."""
