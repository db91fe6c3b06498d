"""isoguard: safe, simple oral isotretinoin treatment."""

__version__ = "0.1.0"
