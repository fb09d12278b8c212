"""Tests for the digit recognition service."""
