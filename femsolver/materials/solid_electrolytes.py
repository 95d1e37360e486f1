"""Named solid electrolytes (single-ion conductors, t+ = 1) and the ionic conductivities of the
particle regions at the case temperature.

Conductivities are given at electrolyte.reference_temperature and taken to
electrolyte.temperature by the Arrhenius law (A1 of docs/physics.md).
"""

from __future__ import annotations

from femsolver import tags
from femsolver.physics.constants import FARADAY
from femsolver.physics.kinetics import arrhenius

SOLID_ELECTROLYTES = {
    "Li6PS5Cl_seed003": {
        "source": "seed 003 (Han et al., core-shell LPSCl@LNO@NMC811, SI Fig. S9): CISOLID "
                  "Li6PS5Cl, 1.45 mS/cm at 25 C, Ea = 0.22 eV from its Arrhenius plot",
        "conductivity": 0.145,  # S/m at 298.15 K
        "activation_energy": 0.22 * FARADAY,  # 0.22 eV per ion = 21.23 kJ/mol
    },
}


def _material_value(se, key: str) -> float:
    """se.<key> if the case gives it, else the named material's value."""
    value = getattr(se, key, None)
    if value is not None:
        return value
    if se.material is None:
        raise ValueError(f"missing key 'solid_electrolyte.{key}' (or choose "
                         f"solid_electrolyte.material: {', '.join(SOLID_ELECTROLYTES)})")
    if se.material not in SOLID_ELECTROLYTES:
        raise ValueError(f"'solid_electrolyte.material' must be one of "
                         f"{', '.join(SOLID_ELECTROLYTES)}, got {se.material!r}")
    return SOLID_ELECTROLYTES[se.material][key]


def liquid_conductivity(el) -> float:
    """Conductivity (S/m) of the case's liquid electrolyte at c0 and its temperature."""
    from femsolver.materials.electrolytes import concentrated_properties
    from femsolver.physics.constants import GAS_CONSTANT

    if el.model == "concentrated":
        return float(concentrated_properties(el).conductivity(el.c0, el.temperature, "numpy"))
    D = [arrhenius(d, el.diffusion_activation_energy, el.temperature, el.reference_temperature)
         for d in (el.D_cation, el.D_anion)]
    return FARADAY**2 * el.c0 * sum(D) / (GAS_CONSTANT * el.temperature)


def ionic_conductivities(case) -> dict[int, float]:
    """{SHELL, MATRIX, COATING tag: ionic conductivity (S/m)} at the case temperature.

    The shell takes solid_electrolyte.shell_conductivity (default: the solid electrolyte's),
    the matrix the solid electrolyte's or, when solid_electrolyte.matrix = "liquid", the liquid
    electrolyte's at c0; the coating (when meshed) coating.conductivity, without temperature
    dependence (no activation energy is known for it). Raises ValueError naming a missing key.
    """
    se, el = case.solid_electrolyte, case.electrolyte
    Ea = _material_value(se, "activation_energy")

    def at_temperature(sigma):
        return float(arrhenius(sigma, Ea, el.temperature, el.reference_temperature))

    sigma = _material_value(se, "conductivity")
    shell = getattr(se, "shell_conductivity", None)
    matrix_kind = getattr(se, "matrix", "solid")
    result = {
        tags.SHELL: at_temperature(shell if shell is not None else sigma),
        tags.MATRIX: at_temperature(sigma) if matrix_kind == "solid" else liquid_conductivity(el),
    }
    coating = getattr(getattr(case, "coating", None), "conductivity", None)
    if coating is not None:
        result[tags.COATING] = float(coating)
    return result
