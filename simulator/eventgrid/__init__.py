from .models import CustomTopic as CustomTopic
