"""wdcli: Wide & Deep learning from declarative YAML specs."""

__version__ = "0.1.0"
