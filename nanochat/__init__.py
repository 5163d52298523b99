"""nanochat-style GPT that consumes a RAP prior. Depends on torch alone: no rap_core, no Textual.

Installed as `rap_nanochat` (the repository folder keeps the name `nanochat/`), so it never
shadows karpathy/nanochat's own `nanochat` package. Modules import each other relatively: the
ones dev/patch_nanochat.py copies into a nanochat checkout then resolve to their neighbours there.
"""
