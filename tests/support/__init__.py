"""Test-only servers and helpers shared by the integration tests."""
