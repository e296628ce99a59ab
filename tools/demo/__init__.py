"""The demo and its harness: a real Home Assistant and the simulator, driven over REST."""
