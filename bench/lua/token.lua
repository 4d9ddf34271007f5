-- wrk script: client-credentials token requests with HTTP Basic auth.
-- Usage: wrk -s token.lua URL -- BASIC_CREDENTIALS   (base64 of "client_id:client_secret")
-- The request is the same every time, so wrk formats it once after init().
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

function init(args)
  wrk.method = "POST"
  wrk.body = "grant_type=client_credentials&scope=bench%3Aread"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. args[1]
end
