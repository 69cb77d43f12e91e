"""Rewrite src/stvsr/catalogue.json, the index `stvsr models` lists from without importing torch, from the registry
and the declared shipped weights. Run it after registering an architecture or declaring shipped weights; a test
fails until the index matches.

    python scripts/update_catalogue.py
"""

from stvsr import catalogue

if __name__ == "__main__":
    catalogue.write()
    print(f"wrote {catalogue.CATALOGUE}")
