"""Reminders: each due reminder sent exactly once, by the channels the patient chose."""
