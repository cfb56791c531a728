"""The network as the pipeline builds it from configuration, checkpoints it and loads it back."""
