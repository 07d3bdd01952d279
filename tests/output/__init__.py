"""Tests of crawler/output/."""
