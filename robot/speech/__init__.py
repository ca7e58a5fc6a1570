"""Offline speech: Piper prompts at telephone rate, streaming recognisers, VAD, urgency spotting."""
