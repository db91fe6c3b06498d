"""The pure core: clinical knowledge, rules, dosing and triage.

Nothing here imports Django or reads the clock; callers pass `as_of`.
"""
