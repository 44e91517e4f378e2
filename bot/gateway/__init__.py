"""The citizens' gateway: every channel in, every reply out, one router in between."""
