"""The drawing page: draw a digit, watch the network's probabilities and layers (``make demo``)."""
