"""The annotation model: masks, documents, commands, history. No Qt, no torch."""
