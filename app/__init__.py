"""oneexam: one combined assessment, many certificates."""
