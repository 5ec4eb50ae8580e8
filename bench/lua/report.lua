-- Shared by every bench script: one JSON line with the numbers the harness reads.
local threads = {}

function bench_track(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local wrapped = 0
  local refused = 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + (tonumber(thread:get("wrapped")) or 0)
    refused = refused + (tonumber(thread:get("refused")) or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"status_errors":%d,"socket_errors":%d,"timeouts":%d,"wrapped":%d,"refused":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write, errors.timeout, wrapped, refused))
end
