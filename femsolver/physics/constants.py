"""Physical constants (CODATA 2018, exact in the 2019 SI)."""

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)


def thermal_voltage(temperature: float) -> float:
    """RT/F in V."""
    return GAS_CONSTANT * temperature / FARADAY
