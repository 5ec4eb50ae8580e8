// The platform's official Node SDK (@commet/node), driven by the tests:
//   node tests/support/commet_node_client.mjs BASE_URL API_KEY < calls.json
// calls.json is a list of {"resource": "planGroups", "method": "create", "params": {...},
// "options": {...}}; "$N.path.to.value" in params is replaced by that value of call N's result.
// The SDK has no base-URL option: its requests to https://commet.co go to BASE_URL instead
// (every other host is refused, so nothing leaves the machine). Prints one JSON line per call:
// {"ok": true, "result": ...} or {"ok": false, "error": {...}} with the typed error's fields.
import { Commet, CommetAPIError, CommetValidationError } from "@commet/node";

const [baseUrl, apiKey] = process.argv.slice(2);
const PLATFORM = "https://commet.co";
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input.url;
  if (!url.startsWith(`${PLATFORM}/`)) throw new TypeError(`fetch refused: ${url}`);
  return realFetch(baseUrl + url.slice(PLATFORM.length), init);
};

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const calls = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const commet = new Commet({ apiKey, retries: 0, telemetry: false });
const results = [];

function resolve(value) {
  if (typeof value === "string" && value.startsWith("$")) {
    const [index, ...path] = value.slice(1).split(".");
    return path.reduce((found, key) => found?.[key], results[Number(index)]);
  }
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  }
  return value;
}

function describe(error) {
  return {
    class: error.constructor.name,
    isApiError: error instanceof CommetAPIError,
    isValidationError: error instanceof CommetValidationError,
    message: error.message,
    statusCode: error.statusCode ?? null,
    code: error.code ?? null,
    details: error.details ?? null,
    validationErrors: error.validationErrors ?? null,
  };
}

for (const call of calls) {
  try {
    const result = await commet[call.resource][call.method](resolve(call.params), call.options);
    results.push(result);
    console.log(JSON.stringify({ ok: true, result }));
  } catch (error) {
    results.push(null);
    console.log(JSON.stringify({ ok: false, error: describe(error) }));
  }
}
