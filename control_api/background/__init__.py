"""Loops on the reactor's clock: the schedule clock, webhook deliveries, sweeps."""
