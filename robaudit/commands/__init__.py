"""Sub-commands that live beside their library code; `robaudit.cli` registers them."""
