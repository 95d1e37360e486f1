"""Electronic conduction in a resolved electrode (docs/physics.md, eq. S1).

    div(sigma grad phi_s) = 0 in the electrode,  -sigma grad phi_s . n = i_n on the interface   (S1)

With phi_s in units of RT/F the conductivity enters as sigma RT/F (A/m).
"""

import ufl


def ohm_residual(phi_s, w_s, sigma, dx):
    """Volume part of the weak form of S1; the interface adds +integral of i_n w_s."""
    return sigma * ufl.inner(ufl.grad(phi_s), ufl.grad(w_s)) * dx
