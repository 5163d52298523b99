"""nanochat-style GPT that consumes a RAP prior; depends on torch alone (no rap_core, no Textual)."""
