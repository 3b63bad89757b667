"""Microsoft.Authorization in the simulator: role assignments (``authz.ra.*``), the directory's
principals and Azure Policy exemptions (``authz.pe.list``)."""

from .models import Authorization

__all__ = ["Authorization"]
