"""Training: losses, the train step, and the resumable loop."""
