"""The policy table's measures: matching items to measures, and the next draft (revision)."""
