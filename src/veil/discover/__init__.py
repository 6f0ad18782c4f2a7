"""Find and classify personal data in tables and free text, and de-identify it."""
