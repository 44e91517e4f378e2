"""Custom Rasa NLU components. Imported only by the Rasa server (the .venv-rasa environment)."""
