"""nanochat-style GPT that consumes a RAP prior. Depends on torch alone: no rap_core, no Textual."""
