"""Named electrolytes for model = "concentrated": properties of c (mol/m3) and T (K).

Each entry gives conductivity (S/m), diffusivity (salt, m2/s), transference (t+) and
thermodynamic_factor, and its source. A case selects one with electrolyte.material and may
override any property with its own key. A property without a published value for the set is
left out: the case must give it (never a guessed number).
"""

from dataclasses import dataclass

from femsolver.physics.properties import Property

ELECTROLYTES = {
    "LiPF6_EC_EMC_Nyman2008": {
        "source": "Nyman, Behm, Lindbergh, Electrochim. Acta 53 (2008) 6356; as fitted in the "
                  "Chen 2020 parameter set (Chen et al., J. Electrochem. Soc. 167 (2020) 080534): "
                  "LiPF6 in EC:EMC 3:7 (w/w), 25 C",
        "conductivity": "0.1297*(c/1000)**3 - 2.51*(c/1000)**1.5 + 3.329*(c/1000)",
        "diffusivity": "8.794e-11*(c/1000)**2 - 3.972e-10*(c/1000) + 4.862e-10",
        "transference": 0.2594,
        "thermodynamic_factor": 1.0,
    },
    "seed_dilute_1e-9": {
        "source": "seed 001, section 5 (D = 1e-9 m2/s for Li+; the anion taken equal): the "
                  "dilute binary electrolyte written as a concentrated one, kappa = F^2 c "
                  "(D+ + D-)/(RT), D = 2 D+ D-/(D+ + D-), t+ = D+/(D+ + D-), chi = 1",
        "conductivity": "F**2*c*2e-9/(R*T)",
        "diffusivity": 1e-9,
        "transference": 0.5,
        "thermodynamic_factor": 1.0,
    },
    "LiTFSI_DOL_DME_1M_BKCS2011": {
        "source": "1 M LiTFSI in DOL:DME 1:1 (v/v), 298 K (the seed 001 Li||Li electrolyte, "
                  "without its LiNO3): conductivity 10.97 mS/cm, Bull. Korean Chem. Soc. 32 "
                  "(2011) 3682, doi:10.5012/bkcs.2011.32.10.3682, as tabulated in CALiSol-23 "
                  "(Sci. Data 2024, doi:10.1038/s41597-024-03575-8). "
                  "Measured at 1 M only, so constant in c. No sourced salt diffusivity or "
                  "transference number: the case gives electrolyte.diffusivity and "
                  "electrolyte.transference",
        "conductivity": 1.0967742,
    },
}


@dataclass(frozen=True)
class ConcentratedProperties:
    conductivity: Property  # S/m
    diffusivity: Property  # m2/s
    thermodynamic_factor: Property  # 1
    transference: float  # t+, 1


KEYS = ("conductivity", "diffusivity", "thermodynamic_factor", "transference")


def concentrated_properties(el) -> ConcentratedProperties:
    """Properties of `el` (ElectrolyteParams): its material's, overridden by its own keys.

    Raises ValueError naming the key when one is missing or gives an unphysical value between
    near depletion and twice c0 (femsolver.physics.properties.PROBE) at the temperature.
    """
    base = dict(ELECTROLYTES[el.material]) if el.material else {}
    values = {k: getattr(el, k) if getattr(el, k) is not None else base.get(k) for k in KEYS}
    if values["thermodynamic_factor"] is None:
        values["thermodynamic_factor"] = 1.0
    for key, value in values.items():
        if value is None:
            hint = (f": the named electrolyte '{el.material}' has no sourced {key}" if el.material
                    else f" (or choose electrolyte.material: {', '.join(ELECTROLYTES)})")
            raise ValueError(f"missing key 'electrolyte.{key}'{hint}")
    props = ConcentratedProperties(
        **{k: Property(values[k], f"electrolyte.{k}") for k in KEYS[:3]},
        transference=values["transference"])
    for key in KEYS[:3]:
        getattr(props, key).check(el.c0, el.temperature)
    if not 0 < props.transference < 1:
        raise ValueError(f"'electrolyte.transference' must be between 0 and 1, "
                         f"got {props.transference}")
    return props
