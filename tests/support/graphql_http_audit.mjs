// graphql-http's GraphQL-over-HTTP audit suite run against a live server:
//   node tests/support/graphql_http_audit.mjs URL API_KEY
// Prints one JSON line per audit: {"id", "name", "status", "reason"}.
import { auditServer } from "graphql-http";

const [url, apiKey] = process.argv.slice(2);
const fetchWithKey = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("x-api-key", apiKey);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn: fetchWithKey });
for (const result of results) {
  console.log(
    JSON.stringify({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.status === "ok" ? null : result.reason,
    }),
  );
}
