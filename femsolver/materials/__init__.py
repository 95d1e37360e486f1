"""Named material parameter sets, each with its source."""
