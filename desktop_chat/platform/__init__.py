"""OS integration behind small interfaces (filled in by later issues)."""
