-- POST requestPayout for the API keys in BENCH_KEYS (comma-separated), cycled per request
-- (each thread starts at its own offset). BENCH_IDEMPOTENCY=unique gives every request its own
-- idempotency key (BENCH_RUN makes them unique across runs); anything else omits it. Answers
-- refused for INSUFFICIENT_BALANCE (or INSUFFICIENT_FUNDS, the reference's code) are counted
-- in "refused".
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  thread:set("refused", 0)
  next_id = next_id + 1
  bench_track(thread)
end

local query = "mutation($input: RequestPayoutInput!) { requestPayout(input: $input) " ..
  "{ payout { id status amount createdAt } userErrors { code message field } } }"

function init(args)
  keys = {}
  for key in string.gmatch(os.getenv("BENCH_KEYS"), "[^,]+") do
    table.insert(keys, key)
  end
  amount = os.getenv("BENCH_AMOUNT") or "1000"
  unique = os.getenv("BENCH_IDEMPOTENCY") == "unique"
  run = os.getenv("BENCH_RUN") or "run"
  counter = id * 7919
  refused = 0
end

function request()
  counter = counter + 1
  local key = keys[(counter % #keys) + 1]
  local idempotency = ""
  if unique then
    idempotency = string.format(',"idempotencyKey":"%s-%d-%d"', run, id, counter)
  end
  local body = string.format(
    '{"query":"%s","variables":{"input":{"amount":%s%s}}}', query, amount, idempotency)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json", ["x-api-key"] = key }, body)
end

function response(status, headers, body)
  if string.find(body, "INSUFFICIENT_", 1, true) then
    refused = refused + 1
  end
end
