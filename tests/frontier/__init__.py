"""Tests of crawler/frontier/."""
