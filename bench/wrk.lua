-- For bench/run.py; wrk prints one JSON line at the end.
--   wrk ... -s wrk.lua URL                    GET
--   wrk ... -s wrk.lua URL -- post FILE       POST each line of FILE (url-encoded) once; when
--                                             they run out, an empty body (refused, stores nothing)
--   wrk ... -s wrk.lua URL -- harvest FILE    GET, and write each form's token and challenge to FILE
local bodies, next_body = {}, 0
local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function init(args)
  if args[1] == "post" then
    for line in io.lines(args[2]) do bodies[#bodies + 1] = line end
  elseif args[1] == "harvest" then
    local out = io.open(args[2], "w")
    out:setvbuf("line")
    response = function(status, headers, body)
      local token = body:match('name="iwf_token" value="([^"]+)"')
      if token then
        out:write(token, "\t", body:match('data%-iwf%-pow="([^"]*)"') or "", "\n")
      end
    end
  end
end

function request()
  if #bodies == 0 then
    return wrk.format(nil, nil)
  end
  next_body = next_body + 1
  return wrk.format("POST", nil, form, bodies[next_body] or "")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
