"""Scripted dialog: YAML scripts, their validation, and the per-call state machine."""
