"""The JSON API, /api/v1/: thin endpoints that parse, call one function, and serialise."""
