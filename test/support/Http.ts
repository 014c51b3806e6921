import * as net from "node:net"
import { expect } from "vitest"
import type { Target } from "./Targets.ts"

export const jsonHeaders = { "content-type": "application/json" }

export const send = (target: Target, method: string, path: string, body?: unknown, headers = jsonHeaders) =>
  target.fetch(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
  })

export interface TaskBody {
  readonly id: string
  readonly title: string
  readonly description: string | null
  readonly status: string
  readonly created_at: string
  readonly updated_at: string
}

export interface PageBody {
  readonly items: ReadonlyArray<TaskBody>
  readonly next_cursor: string | null
}

/** Creates a task, checking what every creation must give: a 201 and updated_at = created_at. */
export const createTask = async (target: Target, body: Record<string, unknown> = { title: "A task" }) => {
  const response = await send(target, "POST", "/tasks", body)
  expect(response.status).toBe(201)
  const task = (await response.json()) as TaskBody
  expect(task.updated_at).toBe(task.created_at)
  return task
}

export const listTasks = async (target: Target, query = "") => {
  const response = await target.fetch(`/tasks${query}`)
  expect(response.status).toBe(200)
  return (await response.json()) as PageBody
}

export interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly errors?: ReadonlyArray<{ readonly path: ReadonlyArray<string | number>; readonly message: string }>
}

/** Asserts an RFC 9457 problem document with the given status, and returns it. */
export const expectProblem = async (response: Response, status: number): Promise<Problem> => {
  expect(response.status).toBe(status)
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/)
  const problem = (await response.json()) as Problem
  expect(problem).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) })
  expect(problem.detail.length).toBeGreaterThan(0)
  expect(problem.detail).not.toContain("\n")
  return problem
}

/** Asserts a 400 whose `errors` name (at least) these fields. */
export const expectInvalid = async (response: Response, ...paths: ReadonlyArray<ReadonlyArray<string | number>>) => {
  const problem = await expectProblem(response, 400)
  expect(problem.errors?.map((error) => error.path)).toEqual(expect.arrayContaining([...paths]))
  for (const error of problem.errors ?? []) expect(error.message.length).toBeGreaterThan(0)
  return problem
}

/** Sends raw bytes to the server at `url` and resolves with everything it answers before it closes. */
export const sendRaw = (url: string, bytes: string) =>
  new Promise<string>((resolve) => {
    const { hostname, port } = new URL(url)
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes))
    let answer = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => (answer += chunk))
    socket.on("close", () => resolve(answer))
    socket.on("error", () => resolve(answer))
  })
