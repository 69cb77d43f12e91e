"""stvsr: space-time video super-resolution.

Importing the package has no side effects; the command line lives in `stvsr.cli`.
"""

__version__ = "0.1.0"
