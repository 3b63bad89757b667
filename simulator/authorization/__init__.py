from .models import Authorization as Authorization
