"""Active particles in an ion conductor: problem, outputs, study of finished runs."""
