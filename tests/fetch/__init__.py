"""Tests of crawler/fetch/."""
