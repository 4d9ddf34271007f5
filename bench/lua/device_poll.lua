-- wrk script: many devices polling the token endpoint (RFC 8628 §3.4) while nobody has
-- approved them yet. Every answer must be 400 authorization_pending or slow_down; anything
-- else counts as an error. Usage: wrk -s device_poll.lua URL -- CLIENT_ID DEVICE_CODES_FILE
local requests = {}
local next_index = 1
local unexpected = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  for code in io.lines(args[2]) do
    if code ~= "" then
      local body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id="
        .. args[1] .. "&device_code=" .. code
      requests[#requests + 1] = wrk.format("POST", nil, headers, body)
    end
  end
  assert(#requests > 0, "no device codes in " .. args[2])
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

function response(status, headers, body)
  if status ~= 400 or not (body:find("authorization_pending", 1, true) or body:find("slow_down", 1, true)) then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("unexpected") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH-RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p99_us=%d max_us=%d " ..
    "status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50.0), latency:percentile(99.0), latency.max,
    bad, e.connect, e.read, e.write, e.timeout))
end
