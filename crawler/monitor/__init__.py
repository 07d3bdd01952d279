"""The monitor stage."""
