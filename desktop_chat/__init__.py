"""Desktop Chat: a native desktop client for chat models."""

__version__ = "0.1.0"
APP_NAME = "Desktop Chat"
