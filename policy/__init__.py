"""Pure policy rules: facts in, one verdict out. No I/O, no asyncio, stdlib only."""
