"""Roles and permissions: the built-in catalog, a community's custom roles and their store, and
the caller that holds them."""
