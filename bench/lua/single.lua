-- POST /v1/events: one record per request, a unique client_event_id each, every citizen's
-- activities in distinct 10-minute slots (no overlap, no rejections by design).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local n = 0

function request()
  mark_sent()
  local token, i = next_token()
  n = n + 1
  local slot = take_slots(i, 1)
  local cid = string.format("%s-s%d-%d", opts.tag, thread_id, n)
  return wrk.format("POST", "/v1/events", auth_headers(token), record_json(cid, slot, n))
end
