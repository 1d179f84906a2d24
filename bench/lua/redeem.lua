-- POST /v1/redemptions of one incentive: every connection sends exactly one request with its
-- own citizen's token and Idempotency-Key (run with limit=1 and as many connections as
-- tokens), then idles until the driver stops wrk.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local n = 0

function request()
  if mark_sent() then n = n + 1 end
  local token = tokens[n] or tokens[#tokens]
  local headers = auth_headers(token)
  headers["Idempotency-Key"] = string.format("%s-r%d-%d", opts.tag, thread_id, n)
  return wrk.format("POST", "/v1/redemptions", headers,
    string.format('{"incentive_id": "%s"}', opts.incentive))
end
