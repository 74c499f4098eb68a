"""Minimal-perturbation search: foolbox attacks, verification, protocols, sanity checks."""
