"""The policy set (DESIGN §3.3): declared rules over observed facts, pure."""
