"""Qt widgets and models that show core state and turn user intent into core calls."""
