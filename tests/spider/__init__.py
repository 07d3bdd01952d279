"""Tests of crawler/spider/."""
