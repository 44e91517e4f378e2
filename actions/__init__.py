"""Thin rasa-sdk adapters into the bot/ library: one module per capability."""
