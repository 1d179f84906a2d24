-- GET /v1/account, each request with the next citizen's token of this thread.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
  mark_sent()
  local token = next_token()
  return wrk.format("GET", "/v1/account", auth_headers(token))
end
