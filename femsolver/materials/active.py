"""Named active (intercalation) materials: open-circuit potential U(x), transport and kinetics.

x = c_s/c_max is the Li stoichiometry of the active material. Each entry gives its source; a
case selects one with active.material and may override any value with its own key
(`active_material`). The OCP functions take x and a math library (numpy for numbers, ufl for
forms: both have exp and tanh), so one formula serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

CHEN2020 = ("Chen, Brosa Planella, O'Regan, Gastol, Widanage, Kendrick, J. Electrochem. Soc. 167 "
            "(2020) 080534, as in PyBaMM's parameter set 'Chen2020' "
            "(src/pybamm/input/parameters/lithium_ion/Chen2020.py)")


def nmc811_chen2020(x, lib=np):
    """OCP of the LG M50 NMC811 positive electrode (V vs Li/Li+), Chen 2020 fit.

    Fitted on x in [0.2661, 0.9084] (the stoichiometry window of the LG M50 cell).
    """
    tanh = lib.tanh
    return (-0.8090 * x + 4.4875 - 0.0428 * tanh(18.5138 * (x - 0.5542))
            - 17.7326 * tanh(15.7890 * (x - 0.3117)) + 17.5842 * tanh(15.9308 * (x - 0.3120)))


def lfp_afshar2017(x, lib=np):
    """OCP of LiFePO4 (V vs Li/Li+): Afshar, Morris, Khajepour, arXiv:1709.03970 (2017), as in
    PyBaMM's parameter set 'Prada2013' (LFP_ocp_ashfar2017): a 3.41 V plateau with walls
    at both ends."""
    return 3.4077 - 0.020269 * x + 0.5 * lib.exp(-150 * x) - 0.9 * lib.exp(-30 * (1 - x))


OCP = {"NMC811_Chen2020": nmc811_chen2020, "LFP_Afshar2017": lfp_afshar2017}
LFP_MOLAR_MASS = 0.157757  # kg/mol: Li 6.94 + Fe 55.845 + P 30.974 + 4 O 15.999 (g/mol)


@dataclass(frozen=True)
class ActiveMaterial:
    """An active material's values in SI units (the case keys of [active])."""

    diffusivity: float  # D_s, m2/s
    max_concentration: float  # c_max, mol/m3
    density: float  # kg/m3
    specific_capacity: float  # A h/kg (200 = 200 mAh/g), for the C-rate
    ocp: str  # key of OCP
    initial_stoichiometry: float  # x0 = c_s/c_max at t = 0
    rate_constant: float  # k of i0 = k c_s^alpha_c (c_max - c_s)^alpha_a, A/m2 (m3/mol)^(aa+ac)
    conductivity: float | None  # electronic, S/m; None: equipotential core
    rate_activation_energy: float = 0.0  # Ea of k, J/mol (k given at 298.15 K)

    def open_circuit_potential(self, x, lib=np):
        """U(x) in V vs Li/Li+; lib = numpy (numbers) or ufl (forms)."""
        return OCP[self.ocp](x, lib)


MATERIALS = {
    # PyBaMM Chen2020 "Positive electrode ...": D_s 4e-15 m2/s, c_max 63104 mol/m3, x0 =
    # 17038/63104 (charged cell), conductivity 0.18 S/m. Its exchange current density is
    # m_ref c_e^0.5 c_s^0.5 (c_max - c_s)^0.5 with m_ref = 3.42e-6 A/m2 (m3/mol)^1.5 and
    # E_r = 17800 J/mol; a solid electrolyte has no c_e, so k = m_ref x (1000 mol/m3)^0.5
    # (Chen's electrolyte at its initial 1 M) = 1.0815e-4 A/m2 (m3/mol). Density and
    # specific capacity are seed 003's (4.8 g/cm3, 1C = 200 mA/g), not Chen's.
    "NMC811_Chen2020": {
        "source": CHEN2020 + "; density 4800 kg/m3 and 200 mAh/g from seed 003 (Han et al., "
                  "core-shell LPSCl@LNO@NMC811)",
        "diffusivity": 4e-15,
        "max_concentration": 63104.0,
        "density": 4800.0,
        "specific_capacity": 200.0,
        "ocp": "NMC811_Chen2020",
        "initial_stoichiometry": 17038.0 / 63104.0,
        "rate_constant": 3.42e-6 * np.sqrt(1000.0),
        "conductivity": 0.18,
        "rate_activation_energy": 17800.0,
    },
    # PyBaMM "Prada2013" positive electrode (LFP; Prada et al., J. Electrochem. Soc. 160 (2013)
    # A616): D_s 5.9e-18 m2/s, c_max 22806 mol/m3, x0 = 35.3766672/22806 (charged),
    # conductivity 0.33795074 S/m; exchange current density (Kashkooli et al., J. Appl.
    # Electrochem. 47 (2017) 281) m_ref = 6e-7 A/m2 (m3/mol)^1.5, E_r = 39570 J/mol, so k =
    # m_ref (1000 mol/m3)^0.5 at c_e = c_ref = 1 M. Density c_max x M(LiFePO4) = 3598 kg/m3
    # (the crystal's 3.6 g/cm3) and the theoretical F/M = 169.9 mAh/g define 1C.
    "LFP_Prada2013": {
        "source": "PyBaMM parameter set 'Prada2013' (pybamm/input/parameters/lithium_ion/"
                  "Prada2013.py): Prada et al., J. Electrochem. Soc. 160 (2013) A616; OCP "
                  "Afshar et al. 2017; kinetics Kashkooli et al. 2017; for the LFP@C "
                  "spheroids of seed 000",
        "diffusivity": 5.9e-18,
        "max_concentration": 22806.0,
        "density": 22806.0 * LFP_MOLAR_MASS,
        "specific_capacity": 96485.33212 / LFP_MOLAR_MASS / 3600,
        "ocp": "LFP_Afshar2017",
        "initial_stoichiometry": 35.3766672 / 22806.0,
        "rate_constant": 6e-7 * np.sqrt(1000.0),
        "conductivity": 0.33795074,
        "rate_activation_energy": 39570.0,
    },
}

KEYS = tuple(f.name for f in fields(ActiveMaterial))


def active_material(params) -> ActiveMaterial:
    """The material of `params` ([active] section): its named set, overridden by its keys.

    `params.conductivity` is special: the named set's value is used only if the case sets it
    (an omitted key means an equipotential core, the common case for a single particle). Raises
    ValueError naming the key when a value is missing or out of range.
    """
    if params.material and params.material not in MATERIALS:
        raise ValueError(f"'active.material' must be one of {', '.join(MATERIALS)}")
    base = dict(MATERIALS[params.material]) if params.material else {}
    values = {}
    for key in KEYS:
        given = getattr(params, key, None)
        values[key] = given if given is not None or key == "conductivity" else base.get(key)
    values["rate_activation_energy"] = values["rate_activation_energy"] or 0.0
    for key, value in values.items():
        if value is None and key != "conductivity":
            raise ValueError(f"missing key 'active.{key}' (or choose active.material: "
                             f"{', '.join(MATERIALS)})")
    if values["ocp"] not in OCP:
        raise ValueError(f"'active.ocp' must be one of {', '.join(OCP)}, got {values['ocp']!r}")
    if not 0 < values["initial_stoichiometry"] < 1:
        raise ValueError("'active.initial_stoichiometry' must be between 0 and 1, got "
                         f"{values['initial_stoichiometry']}")
    return ActiveMaterial(**values)
