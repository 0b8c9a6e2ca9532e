"""Pages of the clinical side: nurse.py (care team), family.py (guardians), learn.py (public)."""
