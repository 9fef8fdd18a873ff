"""The model: its plan compiled from a fitted pipeline (`plan`, plain data), where its weights and inputs sit
(`layout`, built once from the plan), the network (`widedeep`, forward only), and the optimizers of its two parts
with their state (`optim`)."""
