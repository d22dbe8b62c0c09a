-- wrk script: async Invoke (X-Amz-Invocation-Type: Event) of one function, counting 202s.
-- The function name comes from the URL path the harness passes; the event is ~100 bytes.
wrk.method = "POST"
wrk.headers["X-Amz-Invocation-Type"] = "Event"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id":0,"t":0.000000,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  other = 0
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local acc, oth = 0, 0
  for _, t in ipairs(threads) do
    acc = acc + t:get("accepted")
    oth = oth + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"accepted":%d,"other_status":%d,"requests":%d,"duration_us":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"latency_p50_us":%d,"latency_p99_us":%d}\n',
    acc, oth, summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
