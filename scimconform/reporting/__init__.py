"""Reporters: they consume case results and exchanges; nothing upstream imports them."""
