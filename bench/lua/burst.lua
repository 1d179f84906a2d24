-- GET /healthz, one request per connection (limit mode): the burst's ceiling, what answering
-- as many connections once costs when the answer itself costs nothing.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
  mark_sent()
  return wrk.format("GET", "/healthz")
end
