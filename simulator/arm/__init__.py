from .models import ResourceStore as ResourceStore
