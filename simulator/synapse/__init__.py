from .models import Synapse as Synapse
