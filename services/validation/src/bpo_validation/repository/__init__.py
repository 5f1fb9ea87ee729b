"""Every query of the validation service, one module per aggregate."""
