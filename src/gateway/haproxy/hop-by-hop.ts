/**
 * Headers a message's `Connection` header names are hop-by-hop (RFC 9110 §7.6.1) and must not
 * cross the gateway; HAProxy drops only its own connection options, so a small Lua action drops
 * the rest, in both directions. It runs only for messages that carry a `Connection` header.
 */

/** File name of the Lua script in the engine's folder. */
export const HOP_BY_HOP_LUA = 'hop-by-hop.lua';

/** The Lua script HAProxy loads (`lua-load`). `upgrade` stays, so WebSocket handshakes pass. */
export const HOP_BY_HOP_SCRIPT = `-- written by cairn: drops the headers a Connection header lists
local keep = { ["close"] = true, ["keep-alive"] = true, ["upgrade"] = true }
local function drop_listed(http, get, del)
  local conn = get(http)["connection"]
  if conn == nil then return end
  local upgrade = false
  for _, value in pairs(conn) do
    for token in string.gmatch(value, "[^,%s]+") do
      local name = string.lower(token)
      if name == "upgrade" then upgrade = true end
      if not keep[name] then del(http, name) end
    end
  end
  if not upgrade then del(http, "connection") end
end
core.register_action("cairn_hop_req", { "http-req" }, function(txn)
  drop_listed(txn.http, txn.http.req_get_headers, txn.http.req_del_header)
end)
core.register_action("cairn_hop_res", { "http-res" }, function(txn)
  drop_listed(txn.http, txn.http.res_get_headers, txn.http.res_del_header)
end)
`;

/** Frontend rules that call the script. */
export const HOP_BY_HOP_RULES = [
  '  http-request lua.cairn_hop_req if { req.fhdr(connection) -m found }',
  '  http-response lua.cairn_hop_res if { res.fhdr(connection) -m found }',
];
