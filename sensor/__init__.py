"""sensor package."""
