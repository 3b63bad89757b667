from .models import Network as Network
