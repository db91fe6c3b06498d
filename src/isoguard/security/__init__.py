"""Accounts under attack: login lockout, two-factor login for staff, security headers.

See docs/security.md. The settings are in `isoguard.settings` (AXES_*, ISOGUARD_HTTPS, ...).
"""
