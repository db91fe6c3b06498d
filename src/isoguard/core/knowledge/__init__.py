"""Knowledge as data: every fact in a file here carries its source and status."""
