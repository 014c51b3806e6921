-- POST /tasks with a small valid body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"A benchmark task","description":"Created by wrk"}'
