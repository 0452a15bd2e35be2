"""The security policy: one gate for every tool call (gate.py), the tier of each tool
(tiers.py), security profiles (profiles.py), rate limits and the schedule floor
(limits.py), and the audit table of tool decisions (audit_log.py)."""
