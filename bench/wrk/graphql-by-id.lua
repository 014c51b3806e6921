-- POST /graphql: task(id) for random existing ids, every field, as GET /tasks/{id} answers them (by-id.lua).
local tasks = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "tasks.lua")
init = tasks.init
local query = "query TaskById($id: ID!) { task(id: $id) { id title description status createdAt updatedAt etag } }"
function request()
  return tasks.graphql('{"query":"' .. query .. '","variables":{"id":"' .. tasks.random_id() .. '"}}')
end
