"""Training Loop Lab engine: data, models, the training loop, failure variants, diagnosis."""
