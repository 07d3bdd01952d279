"""Tests of crawler/core/."""
