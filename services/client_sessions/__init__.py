"""Client sessions (SPEC §3.12): short-lived, scoped tokens a merchant's backend mints for a
browser page, verified without a database round trip."""
