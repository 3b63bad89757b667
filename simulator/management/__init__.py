from .models import ManagementGroups as ManagementGroups
