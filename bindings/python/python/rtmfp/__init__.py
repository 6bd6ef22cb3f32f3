"""rtmfp: RTMFP (RFC 7016) with the Flash profile (RFC 7425).

Python bindings over the Rust implementation.
"""

from ._rtmfp import __version__

__all__ = ["__version__"]
