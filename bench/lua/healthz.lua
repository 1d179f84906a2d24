-- GET /healthz: the framework's ceiling (no database, no Redis).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
  mark_sent()
  return wrk.format("GET", "/healthz")
end
