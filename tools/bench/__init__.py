"""The closed-loop benchmark: the balancing engine against a site model (DESIGN section 6)."""
