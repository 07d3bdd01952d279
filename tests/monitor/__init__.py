"""Tests of crawler/monitor/."""
