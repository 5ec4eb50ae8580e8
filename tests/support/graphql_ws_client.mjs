// The graphql-ws npm client (what most frontends use), driven by the tests:
//   node tests/support/graphql_ws_client.mjs URL API_KEY COUNT QUERY [VARIABLES_JSON]
// Prints "ready" once the server acknowledged the connection, then one JSON line per result,
// and exits 0 after COUNT results (1 on any error).
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, apiKey, count, query, variables] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { "x-api-key": apiKey },
  retryAttempts: 0,
  on: { connected: () => console.log("ready") },
});

let received = 0;
try {
  const results = client.iterate({ query, variables: variables ? JSON.parse(variables) : {} });
  for await (const result of results) {
    console.log(JSON.stringify(result));
    received += 1;
    if (received >= Number(count)) break;
  }
  await client.dispose();
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? error.message : JSON.stringify(error));
  process.exit(1);
}
