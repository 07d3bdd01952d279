"""Tests of crawler/parse/."""
