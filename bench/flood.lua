-- For bench/flood.py: junk posts as a hostile page makes its visitors' browsers send them.
--   wrk ... -s flood.lua URL -- CLIENTS ORIGIN
-- Each request: no form token, no proof-of-work, Sec-Fetch-Site: cross-site and a foreign
-- Origin, from the next of CLIENTS client addresses (X-Forwarded-For, 10.x.y.z).
-- Prints one JSON line at the end, as wrk.lua does.
local clients, origin, n = 1000, "https://hostile.example", 0
local body = "urls=https%3A%2F%2Fexample.com%2Fjunk&content_kind=images&where_seen=website"
  .. "&description=&contact_email=&homepage="

function init(args)
  clients = tonumber(args[1]) or clients
  origin = args[2] or origin
  -- Threads start at different addresses, so together they cover all of them.
  n = math.random(0, clients - 1)
end

function request()
  n = (n + 1) % clients
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Origin"] = origin,
    ["Sec-Fetch-Site"] = "cross-site",
    ["Sec-Fetch-Mode"] = "no-cors",
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256),
  }
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
