"""Tests of crawler/durable/."""
