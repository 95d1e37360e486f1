"""Electrode | electrolyte cells: problem, outputs, study of finished runs."""
