-- wrk script: token introspection, cycling through previously issued tokens.
-- Usage: wrk -s introspect.lua URL -- BASIC_CREDENTIALS TOKENS_FILE (one token a line)
-- Every request is built in init(); request() only picks the next one.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local requests = {}
local next_index = 1

function init(args)
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. args[1],
  }
  for token in io.lines(args[2]) do
    if token ~= "" then
      requests[#requests + 1] = wrk.format("POST", nil, headers, "token=" .. token)
    end
  end
  assert(#requests > 0, "no tokens in " .. args[2])
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end
