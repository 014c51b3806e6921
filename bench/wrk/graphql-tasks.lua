-- POST /graphql: tasks(first: 50), every field and the next page's cursor, as GET /tasks?limit=50 answers them.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"{ tasks(first: 50) { nodes { id title description status createdAt updatedAt etag } '
  .. 'pageInfo { endCursor } } }"}'
