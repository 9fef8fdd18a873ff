"""The model: its plan compiled from a fitted pipeline (`plan`, plain data), the network (`widedeep`, forward
only), and the optimizers of its two parts (`optim`)."""
