"""Qt-free core: conversations, providers and streaming, history, settings, markdown."""
