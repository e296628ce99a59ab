"""Development tools: the device simulator and the closed-loop benchmark (never shipped)."""
