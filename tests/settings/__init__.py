"""Tests of crawler/settings/."""
