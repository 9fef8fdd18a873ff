"""Data: tables on disk (`io`), the train/validation/test split (`split`), and the batches the trainer eats
(`batch`, and the sources that make them: `memory`)."""
