-- wrk script for bench/award: POST {"customer_identifier":"<id>"} with a different customer on
-- every request, counting 201s and everything else.
--
--   wrk … -s bench/award.lua URL -- PATH FIRST_N THREADS
--   wrk … -s bench/award.lua URL -- @FILE FIRST_N THREADS
--
-- With @FILE (the storefront proxy run): GET each line of FILE in turn (signed app-proxy
-- paths, one logged-in customer each, made by `bench/helpers.py proxy-paths`), from line
-- FIRST_N on, counting 200s as the successes.
--
-- Customer numbers are FIRST_N + tid + k × THREADS (k = 0, 1, …) for thread tid, so threads
-- never collide; the identifier is the Shopify id "8%012d" of customer n (bench/helpers.py
-- seeds n = 1…N). done() prints one `BENCH_RESULT {json}` line for the driver, including
-- next_n, the first customer number the next run may use.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   path = args[1]
   paths = nil
   success = 201
   if string.sub(path, 1, 1) == "@" then
      paths = {}
      for line in io.lines(string.sub(path, 2)) do table.insert(paths, line) end
      success = 200
   end
   first_n = tonumber(args[2])
   stride = tonumber(args[3])
   issued = 0
   created = 0
   other = 0
   statuses = {}
   first_error = ""
   headers = {}
   for name, value in pairs(wrk.headers) do headers[name] = value end
   headers["Content-Type"] = "application/json"
end

function request()
   local n = first_n + tid + issued * stride
   issued = issued + 1
   if paths then
      return wrk.format("GET", paths[(n - 1) % #paths + 1], headers)
   end
   local body = '{"customer_identifier":"8' .. string.format("%012d", n) .. '"}'
   return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
   if status == success then
      created = created + 1
   else
      other = other + 1
      local key = tostring(status)
      statuses[key] = (statuses[key] or 0) + 1
      if first_error == "" then first_error = key .. " " .. string.sub(body or "", 1, 300) end
   end
end

local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local total_issued, total_created, total_other, max_issued = 0, 0, 0, 0
   local merged, first = {}, ""
   local first_n, stride = threads[1]:get("first_n"), threads[1]:get("stride")
   for _, thread in ipairs(threads) do
      local n_issued = thread:get("issued")
      total_issued = total_issued + n_issued
      total_created = total_created + thread:get("created")
      total_other = total_other + thread:get("other")
      if n_issued > max_issued then max_issued = n_issued end
      for code, count in pairs(thread:get("statuses")) do
         merged[code] = (merged[code] or 0) + count
      end
      if first == "" then first = thread:get("first_error") end
   end
   local parts = {}
   for code, count in pairs(merged) do table.insert(parts, json_string(code) .. ":" .. count) end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"issued":%d,"created":%d,"other":%d,' ..
      '"next_n":%d,"statuses":{%s},"first_error":%s,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%d}\n',
      summary.requests, summary.duration, total_issued, total_created, total_other,
      first_n + max_issued * stride, table.concat(parts, ","), json_string(first),
      e.connect, e.read, e.write, e.status, e.timeout,
      math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),
      math.floor(latency:percentile(99)), math.floor(latency.max), math.floor(latency.mean)))
end
