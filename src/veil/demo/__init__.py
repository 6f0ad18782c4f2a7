"""Synthetic demo data that veil generates itself, so no demo or test touches real people."""

from veil.demo.data import generate_patients

__all__ = ["generate_patients"]
