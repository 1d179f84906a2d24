-- POST /v1/events/batch: 100 records of one citizen per request (an app syncing its history),
-- in 100 consecutive free slots of that citizen.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local n = 0
local size = 100

function request()
  mark_sent()
  local token, i = next_token()
  local first = take_slots(i, size)
  local items = {}
  for j = 0, size - 1 do
    n = n + 1
    local cid = string.format("%s-b%d-%d", opts.tag, thread_id, n)
    items[#items + 1] = record_json(cid, first + j, n)
  end
  local body = '{"events": [' .. table.concat(items, ", ") .. ']}'
  return wrk.format("POST", "/v1/events/batch", auth_headers(token), body)
end
