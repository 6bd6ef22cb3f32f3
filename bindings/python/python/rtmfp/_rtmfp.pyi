"""Type stubs for the compiled extension module rtmfp._rtmfp."""

__version__: str
"""The version of the rtmfp native library (the Cargo package version)."""
