"""API Gateway usage plans: which plan a key is in, and what it used."""
