"""One meeting's run: the result types, the analysis, the output catalogue, writers and readers, manifest and history."""
