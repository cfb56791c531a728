"""MLflow: the runs, what they log (evaluation, datasets, the model), model URIs, redaction."""
