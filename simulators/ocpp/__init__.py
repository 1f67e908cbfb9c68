"""Simulated OCPP 1.6J charge points over real websockets, the cars at them, and their faults."""
