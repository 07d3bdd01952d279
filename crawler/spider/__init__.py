"""The spider stage."""
