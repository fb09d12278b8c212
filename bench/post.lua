-- wrk script: POST one image file as multipart/form-data (part "file"), as a browser or curl -F would:
-- each request with its own random boundary, as those clients send (a parser that did work per boundary
-- would pay it on every real request, and a fixed boundary would hide it).
-- Usage: wrk -t1 -c8 -d10s -s bench/post.lua http://127.0.0.1:8000/predict -- IMAGE
-- Prints one line "BENCH {json}" at the end, read by bench/load.py.

local BODIES = 1024  -- built once in init, sent in turn: more boundaries than any cache of recent ones holds
local bodies = {}
local next_body = 0

function init(args)
   local path = args[1]
   local file = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
   local data = file:read("*a")
   file:close()
   local name = path:match("([^/]+)$")
   local mime = name:match("%.jpe?g$") and "image/jpeg" or "image/png"
   math.randomseed(os.time())
   for i = 1, BODIES do
      local boundary = string.format("------------------------%08x%08x",
         math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))  -- as curl -F makes them
      local body = "--" .. boundary .. "\r\n"
         .. 'Content-Disposition: form-data; name="file"; filename="' .. name .. '"\r\n'
         .. "Content-Type: " .. mime .. "\r\n\r\n"
         .. data .. "\r\n--" .. boundary .. "--\r\n"
      bodies[i] = wrk.format("POST", nil, {["Content-Type"] = "multipart/form-data; boundary=" .. boundary}, body)
   end
end

function request()
   next_body = next_body % BODIES + 1
   return bodies[next_body]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "seconds": %.6f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, '
      .. '"max_ms": %.3f, "errors": %d, "bad_status": %d, "socket_errors": %d}\n',
      summary.requests, summary.duration / 1e6,
      latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
      latency.max / 1e3,
      e.status + e.connect + e.read + e.write + e.timeout, e.status,
      e.connect + e.read + e.write + e.timeout))
end
