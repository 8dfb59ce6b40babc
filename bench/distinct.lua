-- wrk script: every request asks a question never asked before, by appending
-- &bench=<thread>-<n> to the URL, so the availability API's micro-cache
-- (chairtime/booking/microcache.py) never answers it and each answer is computed.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local counter = 0

function request()
  counter = counter + 1
  return wrk.format(nil, wrk.path .. "&bench=" .. id .. "-" .. counter)
end
