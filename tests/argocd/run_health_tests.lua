-- Runs an Argo CD health script against test cases, the way Argo CD does: the resource is the global `obj`,
-- the script returns {status = ..., message = ...}. Lua 5.1 (Argo CD's gopher-lua implements 5.1).
--   lua5.1 run_health_tests.lua deploy/argocd/health.lua cases.lua    (cases.lua from yaml_to_lua.py)
-- Exits 1 on any mismatch or script error; the last line is "N passed, N failed".
local script_path, cases_path = arg[1], arg[2]
if script_path == nil or cases_path == nil then
  io.stderr:write("usage: lua5.1 run_health_tests.lua <health.lua> <cases.lua>\n")
  os.exit(2)
end

local cases = assert(loadfile(cases_path))()
local valid = { Healthy = true, Progressing = true, Degraded = true, Suspended = true, Missing = true, Unknown = true }
local passed, failed = 0, 0

for _, case in ipairs(cases) do
  local chunk = assert(loadfile(script_path))
  -- A fresh environment per case: nothing leaks between resources, and only the libraries Argo CD opens.
  setfenv(chunk, {
    obj = case.obj, ipairs = ipairs, pairs = pairs, next = next, type = type, tostring = tostring,
    tonumber = tonumber, string = string, table = table, math = math, error = error, pcall = pcall,
  })
  local ok, result = pcall(chunk)
  local problem
  if not ok then
    problem = "script error: " .. tostring(result)
  elseif type(result) ~= "table" then
    problem = "script returned " .. type(result) .. ", not a table"
  elseif not valid[result.status] then
    problem = "invalid health status " .. tostring(result.status)
  elseif result.status ~= case.expected.status then
    problem = string.format("status %s, expected %s (message %q)", tostring(result.status),
      case.expected.status, tostring(result.message))
  elseif case.expected.message ~= nil and result.message ~= case.expected.message then
    problem = string.format("message %q, expected %q", tostring(result.message), case.expected.message)
  end
  if problem then
    failed = failed + 1
    print("FAIL " .. case.input .. ": " .. problem)
  else
    passed = passed + 1
    print("ok   " .. case.input .. ": " .. result.status .. " (" .. tostring(result.message) .. ")")
  end
end

print(string.format("%d passed, %d failed", passed, failed))
if failed > 0 or passed == 0 then
  os.exit(1)
end
