"""Tests of crawler/cli/."""
