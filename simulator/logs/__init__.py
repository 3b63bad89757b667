from .models import LogAnalytics as LogAnalytics
