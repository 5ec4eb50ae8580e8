"""GraphQL for outbound webhooks (SPEC §3.10, §6): types, queries and mutations."""
