"""RAP Studio, the Textual app: every domain call goes to rap_core."""
