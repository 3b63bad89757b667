from .models import MachineLearning as MachineLearning
