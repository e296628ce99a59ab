"""The device layer: buses, register tables, drivers and discovery; no Home Assistant."""
