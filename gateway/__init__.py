"""esco-gateway: edge gateway for energy-cost trusteeship sites."""

__version__ = "0.1.0"
