"""rap_core — the headless library of RAP Studio.

Dataset in, cutlass fit, critical ranges and compressed rules out, the prior B built and edited
incrementally, the artifact exported. It never imports Textual, and imports torch only inside
export (enforced by tests/test_import_hygiene.py), so pipelines and the TUI start fast.
"""

from rap_core.errors import FitCancelled, RapError

__all__ = ["FitCancelled", "RapError", "__version__"]
__version__ = "0.1.0"
